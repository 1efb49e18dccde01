"""Evaluating a live run: read decisions, scores and first events back from Kafka.

The pure part (recall, precision, time to detect, AUC) is :mod:`stream.harness.evaluation`.
"""

from __future__ import annotations

from pathlib import Path

import orjson

from stream.core.records import Decision, Score
from stream.core.validation import parse_ts
from stream.harness import evaluation_report
from stream.harness.evaluation import Report, evaluate, read_labels
from stream.kafka.read_to_end import read_all
from stream.settings import Settings


def gather_run(
    settings: Settings, labels: dict[str, str]
) -> tuple[list[Decision], dict[str, float], dict[str, float]]:
    """Decisions, each labelled actor's first event time and maximum score, from Kafka."""
    decisions = [Decision.decode(r.value) for r in read_all(settings, settings.topic_decisions)]
    max_score: dict[str, float] = {}
    for r in read_all(settings, settings.scores_topic):
        sc = Score.decode(r.value)
        if sc.slot == "live" and sc.actor in labels and sc.score > max_score.get(sc.actor, -1.0):
            max_score[sc.actor] = sc.score
    first_seen: dict[str, float] = {}
    wanted = {a.encode() for a in labels}
    for r in read_all(settings, settings.topic_requests):
        if r.key not in wanted:
            continue
        try:
            doc = orjson.loads(r.value)
            ts = parse_ts(doc.get("ts")) if isinstance(doc, dict) else None
        except orjson.JSONDecodeError:
            continue
        if ts is None:
            continue
        actor = r.key.decode()
        if ts < first_seen.get(actor, float("inf")):
            first_seen[actor] = ts
    return decisions, first_seen, max_score


def run_evaluation(
    settings: Settings, labels_path: Path, out: Path, include_shadow: bool = False
) -> Report:
    """Evaluate what is on the topics against ``labels_path``; write OUT/report.{json,html}."""
    labels = read_labels(labels_path)
    decisions, first_seen, max_score = gather_run(settings, labels)
    rows = [d.as_dict() for d in decisions]
    rep = evaluate(labels, rows, first_seen, max_score, include_shadow=include_shadow)
    evaluation_report.write(rep, out)
    return rep
