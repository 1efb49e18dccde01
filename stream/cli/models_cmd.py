"""``scrapeguard models``: list, evaluate offline, deploy, promote, roll back, compare."""

from __future__ import annotations

import getpass
import socket
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
    friendly_errors,
    out_option,
    policy_option,
)
from stream.core import control
from stream.core.features import FEATURE_NAMES
from stream.core.policy_loader import load_policy
from stream.harness import evaluation_report
from stream.harness.evaluation import read_labels
from stream.harness.model_comparison import compare as compare_models
from stream.harness.offline import evaluate_model as evaluate_offline
from stream.harness.offline import read_events_file
from stream.kafka.read_to_end import read_all
from stream.kafka.topics import ensure_topics
from stream.kafka.writer import write_all
from stream.runtime.topic_readers import control_key, model_slots
from stream.settings import Settings


def _params(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        params = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--params") from None
    if not isinstance(params, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--params")
    return params


def _spec(name: str, params: dict[str, Any]) -> ModelSpec:
    try:
        return REGISTRY.get(name).spec(params)
    except (UnknownModel, InvalidParams) as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def models() -> None:
    """Model lifecycle: the registry, offline evaluation, shadow, promotion, rollback.

    Control commands are signed with SCRAPEGUARD_CONTROL_KEY and published to the
    control topic; every worker applies them between two batches, without a restart
    and without touching window state.
    """


@models.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--offline", is_flag=True, help="Do not read the control topic.")
@broker_option
@friendly_errors
def list_models(as_json: bool, offline: bool, broker: str | None) -> None:
    """Registered models, their parameters, and which one is live / shadow."""
    settings = build_settings(broker=broker)
    log = model_slots(settings, offline=offline)
    slots, refused = log.slots, log.refused
    rows = []
    for entry in REGISTRY:
        role = (
            "live"
            if slots.live.name == entry.name
            else "shadow"
            if slots.shadow and slots.shadow.name == entry.name
            else ""
        )
        params = (
            slots.live.params
            if role == "live"
            else slots.shadow.params
            if role == "shadow" and slots.shadow
            else entry.defaults
        )
        rows.append(
            {
                "name": entry.name,
                "version": entry.version,
                "role": role,
                "params": dict(params),
                "description": entry.description,
            }
        )
    if as_json:
        click.echo(
            orjson.dumps(
                {"models": rows, "slots": slots.as_dict(), "refused_control_messages": refused}
            ).decode()
        )
        return
    for r in rows:
        role = f" [{r['role']}]" if r["role"] else ""
        click.echo(f"{r['name']}@{r['version']}{role}  {r['description']}")
        click.echo(f"    params: {orjson.dumps(r['params']).decode()}")
    if slots.history:
        click.echo("rollback would return to: " + slots.history[-1].label())
    for line in refused:
        click.echo(f"refused control message at {line}", err=True)


@models.command(name="evaluate")
@click.argument("name")
@click.option("--params", default=None, metavar="JSON", help="Model parameters.")
@click.option(
    "--events",
    "events_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Recorded request events, JSON lines.",
)
@click.option("--topic", default=None, help="Or read the events from this Kafka topic.")
@click.option(
    "--labels",
    "labels_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="`id label` or `id,label` per line: actor keys (from `simulate`) or bare ids "
    "(session/account/IP, matched to the run's actors).",
)
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
@click.option(
    "--fpr",
    type=click.FloatRange(0.0, 1.0, max_open=True),
    default=0.01,
    show_default=True,
    help="The false-positive rate for 'recall at a fixed FPR'.",
)
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
    labels_path: Path,
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
    spec = _spec(name, _params(params))
    unknown = sorted(set(withhold) - set(FEATURE_NAMES))
    if unknown:
        raise click.BadParameter(
            f"no feature named {', '.join(unknown)} (see `scrapeguard features`)",
            param_hint="--withhold",
        )
    labels = read_labels(labels_path)
    if events_file is not None:
        events = read_events_file(events_file)
    else:
        settings = build_settings(broker=broker)
        events = []
        for rec in read_all(settings, topic or ""):
            doc = orjson.loads(rec.value) if rec.value else None
            if isinstance(doc, dict):
                events.append(doc)
        events.sort(key=lambda e: e["ts"] if isinstance(e.get("ts"), int | float) else 0.0)
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


def _send(settings: Settings, message: bytes) -> None:
    ensure_topics(settings)
    write_all(settings, [(settings.topic_control, None, message, 0)])


def _issuer() -> str:
    return f"{getpass.getuser()}@{socket.gethostname()}"


def _need_key(settings: Settings) -> bytes:
    key = control_key(settings)
    if key is None:
        raise click.ClickException(
            "SCRAPEGUARD_CONTROL_KEY is not set: control messages must "
            "be signed with the key the workers hold"
        )
    return key


@models.command()
@click.argument("name")
@click.option("--params", default=None, metavar="JSON", help="Model parameters.")
@click.option("--shadow", is_flag=True, help="Deploy as challenger (shadow).")
@click.option("--live", is_flag=True, help="Deploy as the live model (fresh).")
@broker_option
@friendly_errors
def deploy(name: str, params: str | None, shadow: bool, live: bool, broker: str | None) -> None:
    """Deploy model NAME as shadow (scores beside the live one) or live."""
    if shadow == live:
        raise click.UsageError(
            "--shadow and --live exclude each other" if shadow else "say --shadow or --live"
        )
    slot = "shadow" if shadow else "live"
    settings = build_settings(broker=broker)
    spec = _spec(name, _params(params))
    REGISTRY.get(name).build(spec.params)  # fail here, not on the workers
    key = _need_key(settings)
    issuer = _issuer()
    seq = model_slots(settings).slots.next_seq(issuer)
    _send(settings, control.make("deploy", key, spec=spec, slot=slot, issuer=issuer, seq=seq))
    click.echo(
        f"sent: deploy {spec.label()} {orjson.dumps(dict(spec.params)).decode()} as "
        f"{slot}; workers apply it between two batches"
    )


def _lifecycle(op: str, broker: str | None) -> None:
    settings = build_settings(broker=broker)
    key = _need_key(settings)
    slots = model_slots(settings).slots
    if op in ("promote", "retire_shadow") and slots.shadow is None:
        raise click.ClickException("there is no shadow model (deploy one with --shadow)")
    if op == "rollback" and not slots.history:
        raise click.ClickException("there is no earlier live model to roll back to")
    issuer = _issuer()
    _send(settings, control.make(op, key, issuer=issuer, seq=slots.next_seq(issuer)))
    target = {
        "promote": f"{slots.shadow.label() if slots.shadow else ''} becomes live",
        "rollback": f"{slots.history[-1].label() if slots.history else ''} becomes live again",
        "retire_shadow": "the shadow model is removed",
    }[op]
    click.echo(f"sent: {op} ({target}); workers apply it between two batches")


@models.command()
@broker_option
@friendly_errors
def promote(broker: str | None) -> None:
    """Make the shadow model live, keeping what it learned and all window state."""
    _lifecycle("promote", broker)


@models.command()
@broker_option
@friendly_errors
def rollback(broker: str | None) -> None:
    """Return to the previous live model (with what it had learned)."""
    _lifecycle("rollback", broker)


@models.command(name="retire-shadow")
@broker_option
@friendly_errors
def retire_shadow(broker: str | None) -> None:
    """Remove the shadow model."""
    _lifecycle("retire_shadow", broker)


@models.command()
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


def _fit_prior() -> click.Command:
    from stream.cli.prior_cmd import fit_prior

    return fit_prior


models.add_command(_fit_prior())
