"""The stress harness: ``simulate`` and ``evaluate`` (``replay``: :mod:`stream.cli.replay_cmd`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, TypeVar

import click

from stream.cli.common import (
    broker_option,
    build_settings,
    events_out_option,
    fpr_option,
    friendly_errors,
    labels_option,
    out_option,
)
from stream.core.validation import parse_ts
from stream.harness import evaluation_report
from stream.harness.live_evaluation import run_evaluation, wait_for_worker
from stream.harness.personas import (
    DEFAULT_MIX,
    PERSONAS,
    Simulation,
    parse_mix,
    simulated_policy_text,
)
from stream.harness.traffic import publish_events, write_events, write_labels
from stream.kafka.topics import ensure_topics

F = TypeVar("F", bound=Any)

SIMULATE_HELP = f"""Publish labelled scraper personas and people to `requests`, in event time.

Personas: {", ".join(PERSONAS)}. Labels go to --labels as `actor label` lines:
`human` and `human_*` are people, `allowlisted_*` must never be acted on, every other
label is a kind of bot. The simulated crawler is only allowlisted if your policy
says so (`scrapeguard stress` adds it; see stream/harness/personas).

The traffic covers --hours of event time ending at --end-ts, by default now (the
wall clock): then two runs with one seed differ (people follow the hour of the day).
With the same seed and the same --end-ts, the events and labels are byte-identical.
"""


class EventTime(click.ParamType):
    """Epoch seconds (``1700000000.5``) or ISO-8601 (``2024-05-01T12:00:00Z``; naive = UTC)."""

    name = "TS"

    def convert(self, value: object, param: click.Parameter | None, ctx: object) -> float:
        if isinstance(value, int | float):
            return float(value)
        text = str(value).strip()
        try:
            ts = float(text)
        except ValueError:
            parsed = parse_ts(text.replace("Z", "+00:00") if text.endswith("Z") else text)
            if parsed is None:
                self.fail(f"{text!r} is neither epoch seconds nor ISO-8601", param, None)
            return parsed
        if ts != ts or ts in (float("inf"), float("-inf")):
            self.fail(f"{text!r} is not a finite number of seconds", param, None)
        return ts


def end_ts_option(fn: F) -> F:
    return click.option(
        "--end-ts",
        type=EventTime(),
        default=None,
        help="End of the simulated event time: epoch seconds or ISO-8601 (naive = UTC) "
        "[default: now, so runs differ; give it for identical events from one seed].",
    )(fn)


@click.command(help=SIMULATE_HELP)
@click.option("--actors", default=600, show_default=True, help="Actors to simulate (about).")
@click.option(
    "--hours", default=12.0, show_default=True, help="Hours of event time, up to --end-ts."
)
@click.option(
    "--mix",
    default=None,
    metavar="P=S,...",
    help="Persona shares, e.g. human=0.9,bulk_scraper=0.1 [default: "
    + ",".join(f"{k}={v}" for k, v in DEFAULT_MIX.items())
    + "].",
)
@click.option("--seed", default=1, show_default=True, help="Same seed, same traffic.")
@click.option(
    "--labels",
    "labels_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("labels.txt"),
    show_default=True,
    help="Where to write the labels.",
)
@events_out_option
@click.option(
    "--policy-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the default policy with the simulated verified crawler's allowlist "
    "(for `models evaluate --policy`; without it that crawler is judged like any actor).",
)
@end_ts_option
@click.option("--no-publish", is_flag=True, help="Only write files; do not publish.")
@broker_option
@friendly_errors
def simulate(
    actors: int,
    hours: float,
    mix: str | None,
    seed: int,
    labels_path: Path,
    events_out: Path | None,
    policy_out: Path | None,
    end_ts: float | None,
    no_publish: bool,
    broker: str | None,
) -> None:
    """Simulate a labelled persona mix (people, scrapers, a verified crawler), publish it to
    `requests` and write the labels (`actor label` per line)."""
    end = time.time() if end_ts is None else end_ts
    if policy_out is not None:
        policy_out.write_text(simulated_policy_text())
    sim = Simulation(actors, hours, end, parse_mix(mix), seed)
    events = sim.events()
    write_labels(labels_path, sim.labels())
    if events_out is not None:
        write_events(events_out, events)
    click.echo(
        f"simulated {len(sim.labels())} actors, {len(events)} events over {hours:g}h "
        f"ending at {end:.3f} (seed {seed}); labels in {labels_path}"
    )
    if no_publish:
        return
    settings = build_settings(broker=broker)
    ensure_topics(settings)
    started = time.monotonic()
    sent = publish_events(settings, events)
    click.echo(
        f"published {sent} events to {settings.topic_requests} in {time.monotonic() - started:.1f}s"
    )


@click.command(name="evaluate")
@labels_option
@out_option("evaluation", "report.json and report.html")
@click.option("--include-shadow", is_flag=True, help="Count shadow decisions too.")
@click.option(
    "--wait-s",
    type=click.FloatRange(0.0),
    default=600.0,
    show_default=True,
    help="First wait, up to this long, until the worker has worked everything published "
    "before this command (requests, then the group signals they lead to), so that a "
    "replay or simulation just published is evaluated whole; it stops early with an "
    "error when the worker does not move for two minutes. 0: evaluate at once.",
)
@fpr_option
@broker_option
@friendly_errors
def evaluate_cmd(
    labels_paths: tuple[Path, ...],
    out: Path,
    include_shadow: bool,
    wait_s: float,
    fpr: float,
    broker: str | None,
) -> None:
    """Score a run: AUC, recall, time to detect, precision and the cost to people.

    Reads `decisions`, the model scores and `requests` (every actor's first event) from
    Kafka and matches the labels to the run's actors (it reports ids that matched
    nothing). Prints, per label: recall (people: acted on), time to first action, the
    model against rules-only — derived from the decisions' reasons, as a live run
    happens once — with the lift; ROC AUC over all labelled actors (an unscored actor
    ranks lowest) and among the scored, per bot label, and recall at a fixed
    false-positive rate. Writes report.json and report.html (opens offline).
    """
    settings = build_settings(broker=broker)
    if wait_s > 0:
        started = time.monotonic()
        left = wait_for_worker(settings, wait_s, lambda m: click.echo(m, err=True))
        click.echo(
            f"the worker has worked everything published (it had {left['requests']} "
            f"records of requests left; waited {time.monotonic() - started:.1f} s)",
            err=True,
        )
    rep = run_evaluation(settings, labels_paths, out, include_shadow, fpr)
    click.echo(evaluation_report.full_text(rep))
    click.echo(f"\nreport: {out / 'report.json'}, {out / 'report.html'}")
