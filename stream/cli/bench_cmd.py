"""``scrapeguard bench``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import orjson

from stream.cli.common import friendly_errors, out_option
from stream.harness.bench import plot
from stream.harness.bench.run import Bench


@click.command()
@out_option("bench-results", "bench.json and the plots")
@click.option("--runs", default=3, show_default=True, help="Runs per figure (medians).")
@click.option("--events", default=200_000, show_default=True, help="Events per throughput run.")
@click.option("--quick", is_flag=True, help="One run, fewer events, 100k actors only.")
@click.option(
    "--only",
    type=click.Choice(["check", "pipeline"]),
    default=None,
    help="Run one part, merged into OUT/bench.json: check = /check latency at 1k and 10k "
    "requests/s, and at 1k/s while the worker takes 10k events/s; pipeline = microseconds "
    "per event of the pure core, offline.",
)
@friendly_errors
def bench(out: Path, runs: int, events: int, quick: bool, only: str | None) -> None:
    """Measure throughput, latency, memory and CPU; compare with a naive Faust build.

    Each run starts its own embedded broker on 127.0.0.1 and a worker; a naive Faust
    agent (per-event windowed Table updates and River scoring) processes the same event
    mix. Writes OUT/bench.json and OUT/bench.png and prints a Markdown table.
    """
    if only is not None:
        path = out / "bench.json"
        result = orjson.loads(path.read_bytes()) if path.exists() else {}
        part = Bench(out, log=click.echo, events=events)
        value: Any
        if only == "check":
            result["check_latency_ms"] = part.check_latency()
            name, value = "check_latency_busy_ms", part.check_latency_busy()
        else:
            name, value = "pipeline_us_per_event", part.pipeline()["us_per_event"]
        result[name] = value
        path.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
        click.echo(f"{path}: {name} updated ({value})")
        return
    b = (
        Bench(
            out,
            log=click.echo,
            runs=1,
            events=60_000,
            baseline_events=8_000,
            loads=(2000, 10000),
            load_s=4.0,
            memory_actors=(100_000,),
        )
        if quick
        else Bench(out, log=click.echo, runs=runs, events=events)
    )
    result = b.run()
    (out / "bench.json").write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    plot.plot(result, out / "bench.png")
    click.echo("")
    click.echo(plot.table(result))
    click.echo(f"\n{out / 'bench.json'}, {out / 'bench.png'} ({result['seconds']}s)")
