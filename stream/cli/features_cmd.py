"""``scrapeguard features``: per-actor feature vectors for training, from recorded events."""

from __future__ import annotations

from pathlib import Path

import click

from stream.cli.common import build_settings, friendly_errors, out_option, pseudonymizer

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
@click.option(
    "--interval-s",
    type=click.FloatRange(min=1.0),
    default=300.0,
    show_default=True,
    help="Event-time interval: one row per actor per interval it was active in.",
)
@friendly_errors
def export(events_file: Path, labels_path: Path | None, out: Path, interval_s: float) -> None:
    """Per-actor feature vectors from request events (JSON lines), with labels.

    Every event goes through the worker's contract check, the actor's windows and the
    feature function the model scores; a row holds an actor's features at its last event
    of an interval. Actors are pseudonymised with SCRAPEGUARD_PSEUDONYM_KEY (raw with
    SCRAPEGUARD_LOG_RAW_IDENTIFIERS=true). Writes OUT/features.csv and OUT/features.jsonl.
    """
    from stream.harness.evaluation import read_labels
    from stream.harness.feature_export import export as export_features
    from stream.harness.offline import read_events_file

    settings = build_settings()
    labels = read_labels(labels_path) if labels_path else {}
    stats = export_features(
        read_events_file(events_file),
        labels,
        out,
        interval_s=interval_s,
        name_actor=pseudonymizer(settings).actor,
    )
    labelled = len(stats.actors & set(labels))
    click.echo(
        f"{stats.rows} rows for {len(stats.actors)} actors ({labelled} labelled) from "
        f"{stats.events} events ({stats.invalid} refused by the contract, {stats.late} late); "
        f"{out / 'features.csv'}, {out / 'features.jsonl'}"
    )
