"""``scrapeguard chaos``: crash, rebalance and bad-input run with a from-scratch audit."""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import click
import orjson

from stream.cli.common import build_settings, friendly_errors, out_option
from stream.harness.chaos import Chaos
from stream.harness.embedded_broker import EmbeddedBroker, free_port


@click.command()
@click.option("--trials", default=20, show_default=True, help="Worker crashes (SIGKILL).")
@click.option("--events", default=30_000, show_default=True, help="Good events (about).")
@click.option("--malformed", default=100_000, show_default=True, help="Bad messages.")
@click.option("--seed", default=1, show_default=True, help="Same seed, same traffic and crashes.")
@click.option("--no-rebalance", is_flag=True, help="Skip the 2 → 1 → 2 workers phase.")
@click.option(
    "--outage",
    "outage_s",
    default=20.0,
    show_default=True,
    metavar="S",
    help="Freeze the broker for S seconds mid-stream (0: no outage).",
)
@click.option(
    "--group-session",
    "group_session_s",
    default=3.0,
    show_default=True,
    metavar="S",
    help="Consumer-group session of the workers (SCRAPEGUARD_GROUP_SESSION_TIMEOUT_S): a "
    "killed worker's partitions move, and its restart is ready, once it has passed. The "
    "embedded broker takes less than Apache Kafka's 6 s minimum; with 2 s, two workers on "
    "a loaded 2-core machine kept losing their groups.",
)
@out_option("chaos-results", "the audit (chaos.json) and the logs")
@friendly_errors
def chaos(
    trials: int,
    events: int,
    malformed: int,
    seed: int,
    no_rebalance: bool,
    outage_s: float,
    group_session_s: float,
    out: Path,
) -> None:
    """Kill workers at random, move partitions, flood bad input; then audit every event.

    Runs on a private embedded broker on 127.0.0.1 and ends by itself. The last line is
    `chaos: trials=N events=M malformed=K unaccounted=U double_counted=D`; the exit code
    is 1 when the audit finds anything wrong. Details go to OUT/chaos.json.
    """
    out.mkdir(parents=True, exist_ok=True)
    broker = EmbeddedBroker(port=free_port(), log_path=out / "broker.log")
    broker.start()
    try:
        settings = build_settings(
            broker=broker.url,
            app_id=f"chaos{seed}-{int(time.time())}",
            group_session_timeout_s=group_session_s,
        )
        rep = Chaos(
            settings,
            out,
            trials=trials,
            events=events,
            malformed=malformed,
            seed=seed,
            rebalance=not no_rebalance,
            broker=broker if outage_s > 0 else None,
            outage_s=outage_s,
            log=click.echo,
        ).run()
    finally:
        broker.stop()
    a = rep.audit
    assert a is not None
    (out / "chaos.json").write_bytes(
        orjson.dumps(
            {
                "trials": rep.trials,
                "rebalances": rep.rebalances,
                "outages": rep.outages,
                "events": rep.events,
                "malformed": rep.malformed,
                "restart_s": rep.restarts_s,
                "group_session_s": group_session_s,
                "worker_rss_mb": rep.rss_mb,
                "seconds": rep.seconds,
                "audit": a.as_dict(),
            },
            option=orjson.OPT_INDENT_2,
        )
    )
    click.echo(
        f"decisions: {a.decisions_expected} expected, {a.decisions_missing} missing, "
        f"{a.decisions_unexpected} unexpected, {a.decisions_redelivered} re-delivered "
        f"with the same id, {a.decision_id_conflicts} id conflicts"
    )
    click.echo(
        f"dead letters: {a.malformed_dead_lettered}/{rep.malformed} bad messages, "
        f"{a.deadletter_duplicates} re-delivered copies; counter mismatches: "
        f"{a.counter_mismatches}"
    )
    if rep.restarts_s:
        click.echo(
            f"restart to ready: median {statistics.median(rep.restarts_s):.1f}s; worker "
            f"RSS {min(rep.rss_mb):.0f}-{max(rep.rss_mb):.0f} MB; {rep.seconds:.0f}s"
        )
    for ex in a.examples:
        click.echo(f"  e.g. {ex}")
    click.echo(rep.line())
    sys.exit(0 if a.ok else 1)
