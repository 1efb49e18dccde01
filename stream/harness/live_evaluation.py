"""Evaluating a live run: read decisions, scores and first events back from Kafka.

The pure parts are :mod:`stream.harness.evaluation` (recall, precision, time to detect),
:mod:`stream.harness.ranking` (AUC), :mod:`stream.harness.labels` (matching labelled ids to
the run's actors) and :mod:`stream.harness.controls` (rules-only derived from the
decisions' reasons: a live run happens once).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from stream.core.records import Decision, Score
from stream.core.validation import actor_key_of, parse_ts
from stream.errors import UserError
from stream.harness import evaluation_report
from stream.harness.controls import controls_of_live
from stream.harness.evaluation import Report, evaluate
from stream.harness.labels import read_labels, resolve
from stream.kafka.consumed import NoEnd, NotConsumed, Stage, wait_stages
from stream.kafka.read_to_end import for_each_record, read_all
from stream.settings import Settings


@dataclass
class LiveRun:
    decisions: list[Decision]
    first_seen: dict[str, float]  # every actor of the run -> its first event time
    max_score: dict[str, float]  # actor -> its maximum live score (absent: never scored)
    undecodable: int = 0  # decision and score records that did not decode
    # actor -> its latest live score, in the order computed (the one with the most evidence)
    last_score: dict[str, float] = field(default_factory=dict)


def first_events(settings: Settings) -> dict[str, float]:
    """Every actor with a valid-looking event on ``requests`` → its first event time."""
    first_seen: dict[str, float] = {}

    def fold(r: Any) -> None:
        try:
            doc = orjson.loads(r.value) if r.value else None
        except orjson.JSONDecodeError:
            return
        if not isinstance(doc, dict):
            return
        ts, actor = parse_ts(doc.get("ts")), actor_key_of(doc)
        if ts is None or actor is None:
            return  # the worker dead-letters it: not an actor of the run
        if ts < first_seen.get(actor, float("inf")):
            first_seen[actor] = ts

    for_each_record(settings, settings.topic_requests, fold)  # a replayed log: never held
    return first_seen


def gather_run(settings: Settings) -> LiveRun:
    """Decisions, every actor's first event time and maximum live score, from Kafka."""
    decisions = []
    bad = 0
    for r in read_all(settings, settings.topic_decisions):
        try:
            decisions.append(Decision.decode(r.value))
        except ValueError:
            bad += 1  # counted in the report, not silently dropped
    max_score: dict[str, float] = {}
    last_score: dict[str, float] = {}
    bad_scores = 0

    def fold(r: Any) -> None:
        nonlocal bad_scores
        try:
            sc = Score.decode(r.value)
        except ValueError:
            bad_scores += 1
            return
        if sc.slot != "live":
            return
        if sc.score > max_score.get(sc.actor, -1.0):
            max_score[sc.actor] = sc.score
        # the topic is keyed by actor: one actor's scores are in the order they were
        # computed, the last with the most evidence (a late event's score can carry an
        # older event time), as the offline run keeps them
        last_score[sc.actor] = sc.score

    for_each_record(settings, settings.scores_topic, fold)
    bad += bad_scores
    first_seen = first_events(settings)
    return LiveRun(decisions, first_seen, max_score, bad, last_score)


def live_report(
    settings: Settings,
    labels_paths: Path | Sequence[Path],
    include_shadow: bool = False,
    fpr: float = 0.01,
) -> tuple[Report, LiveRun]:
    """The report of what is on the topics against the labels of ``labels_paths`` (one
    file or several, read as one; not written).

    Labels are matched to the actors that have events on ``requests``; the model arm is
    the live run, rules-only is derived from the decisions' reasons (see
    :mod:`stream.harness.controls`)."""
    given = read_labels(labels_paths)
    run = gather_run(settings)
    resolution = resolve(given, run.first_seen.keys())
    labels = resolution.labels
    rows = [d.as_dict() for d in run.decisions]
    scores = {a: s for a, s in run.max_score.items() if a in labels}
    rep = evaluate(
        labels,
        rows,
        run.first_seen,
        scores,
        include_shadow=include_shadow,
        fpr=fpr,
        last_score=run.last_score,
    )
    rep.resolution = resolution
    rep.summary["undecodable_records"] = run.undecodable
    rep.controls = controls_of_live(labels, rep, rows, run.first_seen)
    return rep, run


def run_evaluation(
    settings: Settings,
    labels_paths: Path | Sequence[Path],
    out: Path,
    include_shadow: bool = False,
    fpr: float = 0.01,
) -> Report:
    """:func:`live_report`, written to OUT/report.{json,html}."""
    rep, _ = live_report(settings, labels_paths, include_shadow, fpr)
    evaluation_report.write(rep, out)
    return rep


def wait_for_worker(
    settings: Settings, timeout_s: float, say: Callable[[str], None], stalled_s: float = 120.0
) -> dict[str, int]:
    """Wait until the worker has worked everything published before this call: the
    detector its ``requests`` — twice, for the events it re-published there under their
    actor's key — then the correlator the activity that produced, then the detector the
    group signals that came of it (each stage publishes before it commits). Returns the
    records each stage had left. Raises :class:`UserError` when a stage does not finish
    within ``timeout_s`` in all, stops moving for ``stalled_s``, or has no end to wait
    for (the topic does not exist, or end markers are refused)."""
    stages = [
        Stage("requests", settings.detector_group, settings.topic_requests),
        Stage("re-keyed requests", settings.detector_group, settings.topic_requests),
        Stage("activity", settings.app_id, settings.activity_topic),
        Stage("group signals", settings.detector_group, settings.signals_topic),
    ]

    def progress(what: str, n: int) -> None:
        say(f"waiting for the worker: {n} records of {what} left to work")

    try:
        return asyncio.run(wait_stages(settings, stages, timeout_s, stalled_s, progress))
    except NoEnd as exc:
        raise UserError(
            f"cannot wait for the worker: {exc}. Pass --wait-s 0 to evaluate what has "
            "been worked so far"
        ) from None
    except NotConsumed as exc:
        raise UserError(
            f"the worker has not worked what was published: {exc}. Is a worker running "
            f"(and done restoring its state) against this broker with "
            f"SCRAPEGUARD_APP_ID={settings.app_id}? Give it longer with --wait-s, or "
            "--wait-s 0 to evaluate what it has worked so far"
        ) from None
