"""``scrapeguard stress``: a persona mix end to end on its own embedded broker, then the report."""

from __future__ import annotations

import time
from pathlib import Path

import click

from models import REGISTRY
from stream import keys
from stream.cli.common import build_settings, friendly_errors, out_option
from stream.cli.harness import end_ts_option
from stream.core.policy_loader import default_policy_text, load_policy
from stream.harness import evaluation_report
from stream.harness.controls import CONSTANT, RULES_ONLY, controls_of_runs, run_offline
from stream.harness.embedded_broker import EmbeddedBroker, free_port
from stream.harness.live_evaluation import live_report
from stream.harness.personas import CRAWLER_ALLOWLIST, Simulation, parse_mix
from stream.harness.traffic import publish_events, write_labels
from stream.harness.worker_process import WorkerProcess
from stream.kafka.topics import ensure_topics
from stream.settings import Settings


@click.command()
@click.option("--actors", default=600, show_default=True, help="Actors to simulate (about).")
@click.option(
    "--hours", default=12.0, show_default=True, help="Hours of event time, up to --end-ts."
)
@click.option("--mix", default=None, metavar="P=S,...", help="Persona shares (see simulate).")
@click.option("--seed", default=1, show_default=True, help="Same seed and --end-ts, same traffic.")
@end_ts_option
@click.option(
    "--policy",
    "policy_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Policy TOML [default: the packaged one].",
)
@click.option(
    "--controls/--no-controls",
    default=True,
    show_default=True,
    help="Also replay the events offline rules-only and with a constant score, for the "
    "model's lift.",
)
@out_option("stress-results", "labels.txt, events, report.json and report.html")
@friendly_errors
def stress(
    actors: int,
    hours: float,
    mix: str | None,
    seed: int,
    end_ts: float | None,
    policy_file: Path | None,
    controls: bool,
    out: Path,
) -> None:
    """Stress-test the controls: simulate, detect, evaluate — on a private broker.

    Starts an embedded broker on a free port and one worker, publishes the persona
    mix (the simulated crawler is added to the policy's allowlist, as a platform
    would declare its partners), waits until every event is processed, and prints
    the evaluation: per label, then the live model against two controls replayed
    offline on the same events (rules-only: no score may act; a constant score), with
    the model's lift over each, then the AUC lines. Everything stays on 127.0.0.1 and
    ends by itself. The report, labels, policy and logs are kept in --out.
    """
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    text = policy_file.read_text() if policy_file else default_policy_text()
    policy_path = out / "policy.toml"
    policy_path.write_text(text + CRAWLER_ALLOWLIST)
    policy = load_policy(policy_path)  # fail early and clearly
    end = time.time() if end_ts is None else end_ts
    sim = Simulation(actors, hours, end, parse_mix(mix), seed)
    events = sim.events()
    labels_path = out / "labels.txt"
    write_labels(labels_path, sim.labels())
    click.echo(
        f"stress: {len(sim.labels())} actors, {len(events)} events, {hours:g}h of "
        f"event time ending at {end:.3f}, seed {seed}"
    )
    broker = EmbeddedBroker(port=free_port(), log_path=out / "broker.log")
    broker.start()
    worker: WorkerProcess | None = None
    try:
        settings = build_settings(broker=broker.url, app_id="stress")
        worker = _run_live(settings, broker, policy_path, out, events)
        rep, run = live_report(settings, labels_path)
    finally:
        if worker is not None:
            worker.stop()
        broker.stop()
    if controls:
        t_off = time.monotonic()
        spec = REGISTRY.get(settings.model).spec(settings.model_params)  # the worker's
        arms = run_offline(policy, events, spec, arms=(RULES_ONLY, CONSTANT))
        assert rep.resolution is not None
        rep.controls = controls_of_runs(
            rep.resolution.labels, ("live run", rep), arms, run.first_seen
        )
        click.echo(f"stress: control runs offline in {time.monotonic() - t_off:.0f}s")
    evaluation_report.write(rep, out, title="scrapeguard stress")
    click.echo("")
    click.echo(evaluation_report.full_text(rep))
    click.echo(f"\n{evaluation_report.TARGETS}")
    click.echo(f"report: {out / 'report.html'} ({time.monotonic() - started:.0f}s in all)")


def _run_live(
    settings: Settings,
    broker: EmbeddedBroker,
    policy_path: Path,
    out: Path,
    events: list[dict[str, object]],
) -> WorkerProcess:
    ensure_topics(settings)
    env = {
        "SCRAPEGUARD_BROKER": broker.url,
        "SCRAPEGUARD_APP_ID": "stress",
        "SCRAPEGUARD_POLICY_FILE": str(policy_path),
        "SCRAPEGUARD_WEB_PORT": str(free_port()),
        "SCRAPEGUARD_DATA_DIR": str(out / "data"),
        "SCRAPEGUARD_LOG_FORMAT": "json",
        "SCRAPEGUARD_LOG_LEVEL": "info",
        **keys.generate(),
    }
    (out / "worker.log").write_text("")
    worker = WorkerProcess(env, out / "worker.log")
    worker.start()
    t_pub = time.monotonic()
    sent = publish_events(settings, events)
    click.echo(f"stress: published {sent} events in {time.monotonic() - t_pub:.1f}s")
    health = worker.wait_processed(sent, timeout_s=600)
    took = time.monotonic() - t_pub
    worker.wait_settled(settings)  # group signals and incidents follow the events
    click.echo(
        f"stress: worker processed {health['events']} events "
        f"({health['events'] / took:,.0f}/s end to end incl. publishing)"
    )
    return worker
