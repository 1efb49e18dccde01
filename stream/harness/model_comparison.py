"""Live against shadow on the same actors, from the scores and decisions on Kafka."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stream.core.records import Decision, Score
from stream.harness.labels import Resolution, resolve
from stream.harness.live_evaluation import first_events
from stream.harness.ranking import roc_auc
from stream.kafka.read_to_end import for_each_record, read_all
from stream.settings import Settings


@dataclass
class Comparison:
    models: dict[str, set[str]]  # slot -> model labels seen
    best: dict[str, dict[str, float]]  # slot -> actor -> max score
    challenged: dict[str, set[str]]  # slot -> actors challenged by the score
    # ROC AUC per slot on the labelled actors scored by both slots
    auc: dict[str, float | None] = field(default_factory=dict)
    labelled_common: int = 0
    # per slot, over every labelled actor of the run (an actor the slot never scored ranks
    # lowest) and among the labelled actors the slot scored
    auc_all: dict[str, float | None] = field(default_factory=dict)
    auc_scored: dict[str, float | None] = field(default_factory=dict)
    labelled: int = 0
    resolution: Resolution | None = None

    @property
    def common(self) -> set[str]:
        return set(self.best["live"]) & set(self.best["shadow"])

    @property
    def mean_abs_diff(self) -> float | None:
        both = self.common
        if not both:
            return None
        return sum(abs(self.best["live"][a] - self.best["shadow"][a]) for a in both) / len(both)


def compare(settings: Settings, labels: Mapping[str, str] | None = None) -> Comparison:
    """Both slots' scores and would-be challenges; with ``labels`` (ids matched to the
    actors with events on ``requests``) the AUC of each slot, three ways."""
    best: dict[str, dict[str, float]] = {"live": {}, "shadow": {}}
    models: dict[str, set[str]] = {"live": set(), "shadow": set()}

    def fold(rec: Any) -> None:
        try:
            sc = Score.decode(rec.value)
        except ValueError:
            return
        models[sc.slot].add(sc.model)
        if sc.score > best[sc.slot].get(sc.actor, -1.0):
            best[sc.slot][sc.actor] = sc.score

    for_each_record(settings, settings.scores_topic, fold)
    challenged: dict[str, set[str]] = {"live": set(), "shadow": set()}
    for rec in read_all(settings, settings.topic_decisions):
        try:
            d = Decision.decode(rec.value)
        except ValueError:
            continue
        if d.action == "challenge" and any(r.startswith("anomaly_score") for r in d.reasons):
            challenged["shadow" if d.shadow else "live"].add(d.actor)
    out = Comparison(models, best, challenged)
    if labels is not None:
        out.resolution = resolve(labels, first_events(settings).keys())
        resolved = out.resolution.labels
        out.labelled = len(resolved)
        common = {a: lab for a, lab in resolved.items() if a in out.common}
        out.labelled_common = len(common)
        for slot in ("live", "shadow"):
            out.auc[slot] = roc_auc(common, best[slot])
            out.auc_all[slot] = roc_auc(resolved, best[slot])
            out.auc_scored[slot] = roc_auc(resolved, best[slot], among_scored=True)
    return out
