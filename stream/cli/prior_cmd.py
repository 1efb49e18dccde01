"""``scrapeguard models fit-prior``: refit the supervised model's prior on personas."""

from __future__ import annotations

from pathlib import Path

import click
import orjson

from stream.cli.common import friendly_errors, out_option
from stream.harness.prior_fit import calibrate, fit, fit_setting, held_out_auc, simulated


@click.command(name="fit-prior")
@click.option("--seeds", default="1,2", show_default=True, help="Simulation seeds to fit on.")
@click.option(
    "--calibration-seed", default=3, show_default=True, help="A seed to calibrate scores on."
)
@click.option("--test-seed", default=7, show_default=True, help="A seed held out to test on.")
@click.option("--actors", default=400, show_default=True, help="Actors per simulation.")
@click.option("--hours", default=8.0, show_default=True, help="Hours of event time per run.")
@click.option("--l2", default=0.1, show_default=True, help="L2 penalty of the fit.")
@out_option("models", "prior.json (the package's own prior is models/prior.json)")
@friendly_errors
def fit_prior(
    seeds: str,
    calibration_seed: int,
    test_seed: int,
    actors: int,
    hours: float,
    l2: float,
    out: Path,
) -> None:
    """Fit the prior of the supervised model on simulated, labelled traffic.

    Replays the persona mix (platform events and whole-site logs) through the same
    pipeline as the stream, fits a logistic regression on the feature vectors, calibrates
    its scores on a second seed (Platt scaling), tests it on a third and writes the
    weights with what they were fitted on.
    """
    try:
        train_seeds = [int(s) for s in seeds.split(",") if s.strip()]
    except ValueError:
        raise click.BadParameter(
            "a comma-separated list of integers", param_hint="--seeds"
        ) from None
    if test_seed in train_seeds or calibration_seed in train_seeds:
        raise click.BadParameter(
            "--test-seed and --calibration-seed must not be one of --seeds", param_hint="--seeds"
        )
    if calibration_seed == test_seed:
        raise click.BadParameter("must differ from --test-seed", param_hint="--calibration-seed")
    policy, spec = fit_setting()
    train = simulated(train_seeds, actors, hours, policy, spec)
    prior = fit(train, l2=l2)
    a, b = calibrate(prior, simulated([calibration_seed], actors, hours, policy, spec))
    test = simulated([test_seed], actors, hours, policy, spec)
    auc = held_out_auc(prior, test)
    prior.meta.update(
        {
            "fitted_on": f"personas, seeds {train_seeds}, {actors} actors x {hours:g} h, "
            "platform and whole-site traffic",
            "held_out": f"seed {test_seed}: ROC AUC of max score {auc:.4f}" if auc else "-",
        }
    )
    out.mkdir(parents=True, exist_ok=True)
    path = out / "prior.json"
    path.write_bytes(orjson.dumps(prior.as_dict(), option=orjson.OPT_INDENT_2) + b"\n")
    click.echo(
        f"fitted on {len(train.rows)} vectors; calibrated (a={a:.2f}, b={b:+.2f}); "
        f"held-out AUC {auc:.4f}; wrote {path}"
    )
