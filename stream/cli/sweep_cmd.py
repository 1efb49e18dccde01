"""``scrapeguard models sweep``: the first-action target over several simulated windows
(seeds × end times), offline — one window is not enough to say a persona is caught in
time (docs/evaluation.md)."""

from __future__ import annotations

import time
from pathlib import Path

import click
import orjson

from stream.cli.common import as_json_option, friendly_errors
from stream.cli.harness import EventTime
from stream.cli.model_evaluation_cmd import model_spec, params_of
from stream.core.policy_loader import load_policy, parse_policy
from stream.harness.evaluation import FIRST_ACTION_TARGET_S
from stream.harness.personas import parse_mix, simulated_policy_text
from stream.harness.window_sweep import (
    HELD_OUT_SEEDS,
    Window,
    WindowResult,
    summarise,
    sweep,
    table,
)

#: default end times: now and every 6 hours before it, so the windows start at four
#: different hours of the day (the personas' activity follows the clock)
DEFAULT_ENDS = 4
ENDS_APART_S = 6 * 3600.0


@click.command(name="sweep")
@click.argument("name")
@click.option("--params", default=None, metavar="JSON", help="Model parameters.")
@click.option(
    "--seed",
    "seeds",
    type=int,
    multiple=True,
    help="Simulation seed; repeat for more [default: "
    + ", ".join(map(str, HELD_OUT_SEEDS))
    + ": seeds the packaged prior was not fitted or calibrated on].",
)
@click.option(
    "--end-ts",
    "ends",
    type=EventTime(),
    multiple=True,
    help="End of a window's event time (epoch seconds or ISO-8601, naive = UTC); repeat "
    f"for more [default: now and {DEFAULT_ENDS - 1} times {ENDS_APART_S / 3600:g} h "
    "before it; give them for identical windows].",
)
@click.option("--actors", default=600, show_default=True, help="Actors per window (about).")
@click.option("--hours", default=12.0, show_default=True, help="Hours of event time per window.")
@click.option("--mix", default=None, metavar="P=S,...", help="Persona shares (as `simulate`).")
@click.option(
    "--policy",
    "policy_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Policy TOML file [default: the packaged policy with the simulated verified "
    "crawler on its allowlist, as `simulate --policy-out` writes it].",
)
@as_json_option
@friendly_errors
def sweep_windows(
    name: str,
    params: str | None,
    seeds: tuple[int, ...],
    ends: tuple[float, ...],
    actors: int,
    hours: float,
    mix: str | None,
    policy_file: Path | None,
    as_json: bool,
) -> None:
    """Simulate the persona mix in every window (each --seed × each --end-ts), replay each
    through model NAME offline and say, per label, in how many windows the first-action
    target was met: the median time to first action over all the label's actors (never
    acted on = never) within 30 minutes of event time. Also the range of those medians,
    and the people acted on in all. About a minute per window of 600 actors; no broker.

    One window is not enough: which variant of a persona each actor draws changes from
    window to window (docs/evaluation.md)."""
    spec = model_spec(name, params_of(params))
    try:
        persona_mix = parse_mix(mix)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--mix") from None
    policy = (
        load_policy(policy_file)
        if policy_file is not None
        else parse_policy(simulated_policy_text())
    )
    if not ends:
        now = time.time()
        ends = tuple(now - i * ENDS_APART_S for i in range(DEFAULT_ENDS))
    windows = [Window(seed, end) for seed in seeds or HELD_OUT_SEEDS for end in ends]

    def progress(result: WindowResult) -> None:
        if not as_json:
            click.echo(result.line())

    results = sweep(
        windows, policy, spec, actors=actors, hours=hours, mix=persona_mix, progress=progress
    )
    sweeps = summarise(results)
    if as_json:
        doc = {
            "model": spec.as_dict(),
            "target_s": FIRST_ACTION_TARGET_S,
            "windows": [{"seed": w.seed, "end_ts": w.end_ts} for w in windows],
            "labels": [s.as_dict() for s in sweeps],
        }
        click.echo(orjson.dumps(doc).decode())
        return
    click.echo("")
    click.echo(table(sweeps))
