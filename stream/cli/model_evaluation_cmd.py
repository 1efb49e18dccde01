"""``scrapeguard models evaluate`` (offline, on recorded events) and ``models compare``
(live against shadow on the same actors): the commands that judge a model."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import orjson

from models import REGISTRY, ModelSpec
from models.registry import InvalidParams, UnknownModel
from stream.cli.common import (
    as_json_option,
    broker_option,
    build_settings,
    fpr_option,
    friendly_errors,
    labels_option,
    out_option,
    policy_option,
)
from stream.core.features import FEATURE_NAMES
from stream.core.policy_loader import load_policy
from stream.harness import evaluation_report
from stream.harness.evaluation import read_labels
from stream.harness.model_comparison import compare as compare_models
from stream.harness.offline import evaluate_model as evaluate_offline
from stream.harness.offline import read_events_file, sort_by_event_time
from stream.kafka.read_to_end import read_all


def params_of(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        params = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--params") from None
    if not isinstance(params, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--params")
    return params


def model_spec(name: str, params: dict[str, Any]) -> ModelSpec:
    try:
        return REGISTRY.get(name).spec(params)
    except (UnknownModel, InvalidParams) as exc:
        raise click.ClickException(str(exc)) from None


@click.command(name="evaluate")
@click.argument("name")
@click.option("--params", default=None, metavar="JSON", help="Model parameters.")
@click.option(
    "--events",
    "events_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Recorded request events, JSON lines.",
)
@click.option("--topic", default=None, help="Or read the events from this Kafka topic.")
@labels_option
@click.option(
    "--split",
    type=click.Choice(["none", "time", "actor"]),
    default="none",
    show_default=True,
    help="time: learn over the whole stream, report on actors first seen in the last "
    "--test-share of event time; actor: replay the train actors, then the test actors "
    "(a hash of the actor decides), report on the test actors.",
)
@click.option(
    "--test-share",
    type=click.FloatRange(0.0, 1.0, min_open=True, max_open=True),
    default=0.3,
    show_default=True,
    help="Share of event time (time split) or of actors (actor split) that is test.",
)
@fpr_option
@click.option(
    "--controls/--no-controls",
    default=True,
    show_default=True,
    help="Also replay rules-only and with a constant score, for the model's lift.",
)
@click.option(
    "--withhold",
    "withhold",
    multiple=True,
    metavar="FEATURE",
    help="A feature the model sees at its neutral value, e.g. automation_ua and ua_count "
    "when the labels come from user agents (repeatable; names: `scrapeguard features`).",
)
@out_option("model-evaluation", "report.json and report.html")
@policy_option
@as_json_option
@broker_option
@friendly_errors
def evaluate_model(
    name: str,
    params: str | None,
    events_file: Path | None,
    topic: str | None,
    labels_paths: tuple[Path, ...],
    split: str,
    test_share: float,
    fpr: float,
    controls: bool,
    withhold: tuple[str, ...],
    out: Path,
    policy_file: Path | None,
    as_json: bool,
    broker: str | None,
) -> None:
    """Replay recorded events through the feature code and model NAME, offline.

    Reports ROC AUC of each actor's maximum score (bots against people) over all labelled
    actors (an unscored actor ranks lowest) and among the scored, per bot label, recall at
    a fixed false-positive rate, recall and time to first action per label, precision and
    the people acted on — and, unless --no-controls, the same for two control runs on the
    same events (rules-only: no score may act; a constant score) and the model's lift over
    them. Writes OUT/report.json and OUT/report.html. No broker is needed for a file.
    See docs/evaluation.md for what is learnt from what.
    """
    if (events_file is None) == (topic is None):
        raise click.UsageError("give exactly one of --events FILE and --topic T")
    spec = model_spec(name, params_of(params))
    unknown = sorted(set(withhold) - set(FEATURE_NAMES))
    if unknown:
        raise click.BadParameter(
            f"no feature named {', '.join(unknown)} (see `scrapeguard features`)",
            param_hint="--withhold",
        )
    labels = read_labels(labels_paths)
    if events_file is not None:
        events = read_events_file(events_file)
    else:
        settings = build_settings(broker=broker)
        events = []
        for rec in read_all(settings, topic or ""):
            doc = orjson.loads(rec.value) if rec.value else None
            if isinstance(doc, dict):
                events.append(doc)
        sort_by_event_time(events)
    policy = load_policy(policy_file)
    result = evaluate_offline(
        policy,
        spec,
        events,
        labels,
        split=split,
        test_share=test_share,
        fpr=fpr,
        controls=controls,
        withhold=frozenset(withhold),
    )
    rep = result.report
    evaluation_report.write(rep, out, title=f"offline evaluation of {spec.label()}")

    def f(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}"

    if as_json:
        doc = {
            "model": spec.as_dict(),
            "events": result.events,
            "labelled": result.labelled,
            "scored": result.scored,
            "roc_auc": result.roc_auc,
            "roc_auc_scored": result.roc_auc_scored,
            "score_only": dict(zip(("precision", "recall"), result.score_only, strict=True)),
            "whole_policy": dict(zip(("precision", "recall"), result.whole_policy, strict=True)),
            "ranking": rep.ranking.as_dict() if rep.ranking else None,
            "controls": rep.controls.as_dict() if rep.controls else None,
            "labels_resolution": rep.resolution.as_dict() if rep.resolution else None,
            "split": rep.split,
            "report": str(out / "report.html"),
        }
        click.echo(orjson.dumps(doc).decode())
        return
    click.echo(f"model {spec.label()} {orjson.dumps(dict(spec.params)).decode()}")
    click.echo(
        f"events {result.events}, labelled actors {result.labelled}, scored actors {result.scored}"
    )
    click.echo(evaluation_report.full_text(rep))
    p_s, r_s = result.score_only
    p_p, r_p = result.whole_policy
    click.echo(
        f"\nscore > {policy.score_challenge:g} alone (no gates): precision {f(p_s)}, "
        f"recall {f(r_s)}"
    )
    click.echo(f"whole policy (rules + score): precision {f(p_p)}, recall {f(r_p)}")
    click.echo(f"report: {out / 'report.html'}")


@click.command()
@click.option(
    "--labels",
    "labels_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Also compare ROC AUC on labelled actors (`id label` lines, ids matched to the "
    "run's actors).",
)
@as_json_option
@broker_option
@friendly_errors
def compare(labels_path: Path | None, as_json: bool, broker: str | None) -> None:
    """Live against shadow on the same actors: scores and would-be challenges."""
    settings = build_settings(broker=broker)
    cmp = compare_models(settings, read_labels(labels_path) if labels_path else None)
    lc, sc = cmp.challenged["live"], cmp.challenged["shadow"]
    if as_json:
        doc = {
            "models": {slot: sorted(labels) for slot, labels in cmp.models.items()},
            "scored": {slot: len(best) for slot, best in cmp.best.items()},
            "scored_by_both": len(cmp.common),
            "mean_abs_diff": cmp.mean_abs_diff,
            "challenged_by_score": {"live": len(lc), "shadow": len(sc), "both": len(lc & sc)},
            "roc_auc": cmp.auc,
            "labelled_common": cmp.labelled_common,
            "roc_auc_all": cmp.auc_all,
            "roc_auc_scored": cmp.auc_scored,
            "labelled": cmp.labelled,
            "labels_resolution": cmp.resolution.as_dict() if cmp.resolution else None,
        }
        click.echo(orjson.dumps(doc).decode())
        return
    click.echo(
        f"live models: {', '.join(sorted(cmp.models['live'])) or '-'}; "
        f"shadow models: {', '.join(sorted(cmp.models['shadow'])) or '-'}"
    )
    click.echo(
        f"actors scored by live {len(cmp.best['live'])}, by shadow {len(cmp.best['shadow'])}, "
        f"by both {len(cmp.common)}"
    )
    if cmp.mean_abs_diff is not None:
        click.echo(f"mean |live - shadow| of max scores on common actors: {cmp.mean_abs_diff:.3f}")
    click.echo(
        f"challenged by the score: live {len(lc)}, shadow would {len(sc)}, "
        f"both {len(lc & sc)}, only live {len(lc - sc)}, only shadow {len(sc - lc)}"
    )
    if cmp.resolution is not None:
        click.echo(cmp.resolution.summary())

    def f(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}"

    for slot, auc in cmp.auc.items():
        click.echo(
            f"ROC AUC {slot}: on the {cmp.labelled_common} labelled actors both scored "
            f"{f(auc)}; over all {cmp.labelled} labelled (unscored lowest) "
            f"{f(cmp.auc_all[slot])}; among those it scored {f(cmp.auc_scored[slot])}"
        )
    sys.stdout.flush()
