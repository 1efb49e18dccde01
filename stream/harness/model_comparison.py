"""Live against shadow on the same actors, from the scores and decisions on Kafka."""

from __future__ import annotations

from dataclasses import dataclass, field

from stream.core.records import Decision, Score
from stream.harness.evaluation import roc_auc
from stream.kafka.read_to_end import read_all
from stream.settings import Settings


@dataclass
class Comparison:
    models: dict[str, set[str]]  # slot -> model labels seen
    best: dict[str, dict[str, float]]  # slot -> actor -> max score
    challenged: dict[str, set[str]]  # slot -> actors challenged by the score
    auc: dict[str, float | None] = field(default_factory=dict)  # on labelled common actors
    labelled_common: int = 0

    @property
    def common(self) -> set[str]:
        return set(self.best["live"]) & set(self.best["shadow"])

    @property
    def mean_abs_diff(self) -> float | None:
        both = self.common
        if not both:
            return None
        return sum(abs(self.best["live"][a] - self.best["shadow"][a]) for a in both) / len(both)


def compare(settings: Settings, labels: dict[str, str] | None = None) -> Comparison:
    best: dict[str, dict[str, float]] = {"live": {}, "shadow": {}}
    models: dict[str, set[str]] = {"live": set(), "shadow": set()}
    for rec in read_all(settings, settings.scores_topic):
        try:
            sc = Score.decode(rec.value)
        except ValueError:
            continue
        models[sc.slot].add(sc.model)
        if sc.score > best[sc.slot].get(sc.actor, -1.0):
            best[sc.slot][sc.actor] = sc.score
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
        common = {a: lab for a, lab in labels.items() if a in out.common}
        out.labelled_common = len(common)
        out.auc = {slot: roc_auc(common, best[slot]) for slot in ("live", "shadow")}
    return out
