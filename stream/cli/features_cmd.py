"""``scrapeguard features``: per-actor feature vectors for training, from recorded events."""

from __future__ import annotations

from pathlib import Path

import click

from stream.cli.common import (
    build_settings,
    friendly_errors,
    out_option,
    policy_option,
    pseudonymizer,
)

FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group()
def features() -> None:
    """Feature vectors as the worker computes them, for training and analysis."""


@features.command(name="export")
@click.argument("events_file", type=FILE, metavar="EVENTS.jsonl")
@click.option(
    "--labels",
    "labels_path",
    type=FILE,
    default=None,
    help="`actor label` per line (from `simulate`, or your own): adds the label and a "
    "bot column (1 bot, 0 person, empty unlabelled).",
)
@out_option("features", "features.csv and features.jsonl")
@policy_option
@friendly_errors
def export(
    events_file: Path, labels_path: Path | None, out: Path, policy_file: Path | None
) -> None:
    """Per-actor feature vectors from request events (JSON lines), with labels.

    The events go through the worker's pipeline, offline: a row is a vector the detector
    scores — one per actor per scoring interval of the policy's [score] section. Actors
    are pseudonymised with SCRAPEGUARD_PSEUDONYM_KEY (raw with
    SCRAPEGUARD_LOG_RAW_IDENTIFIERS=true). Writes OUT/features.csv and OUT/features.jsonl.
    """
    from stream.core.policy_loader import load_policy
    from stream.harness.evaluation import read_labels
    from stream.harness.feature_export import export as export_features
    from stream.harness.offline import read_events_file

    settings = build_settings()
    labels = read_labels(labels_path) if labels_path else {}
    stats = export_features(
        read_events_file(events_file),
        labels,
        out,
        policy=load_policy(policy_file),
        name_actor=pseudonymizer(settings).actor,
    )
    labelled = len(stats.actors & set(labels))
    click.echo(
        f"{stats.rows} rows for {len(stats.actors)} actors ({labelled} labelled) from "
        f"{stats.events} events ({stats.invalid} dead-lettered); "
        f"{out / 'features.csv'}, {out / 'features.jsonl'}"
    )
