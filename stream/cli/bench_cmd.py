"""``scrapeguard bench``."""

from __future__ import annotations

from pathlib import Path

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
@friendly_errors
def bench(out: Path, runs: int, events: int, quick: bool) -> None:
    """Measure throughput, latency, memory and CPU; compare with a naive Faust build.

    Each run starts its own embedded broker on 127.0.0.1 and a worker; a naive Faust
    agent (per-event windowed Table updates and River scoring) processes the same event
    mix. Writes OUT/bench.json and OUT/bench.png and prints a Markdown table.
    """
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
