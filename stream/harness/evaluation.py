"""Detection quality of a run: recall, time to detect, precision, cost to people (pure).

Inputs are plain data: labels (``actor -> label``, already matched to the run's actors by
:mod:`stream.harness.labels`), decisions (dicts as on the ``decisions`` topic), each
actor's first event time and maximum live model score (absent: never scored). The
negative class is ``human`` and every ``human_*`` label (people); ``allowlisted_*``
actors must never be acted on; every other label is a kind of bot.

Nothing skipped counts as a pass: an actor never scored has no score (the ranking
figures of :mod:`stream.harness.ranking` say how they treat it), an actor never acted on
is a miss, and an actor without a first event has no time to detect.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stream.harness.labels import (
    Resolution,
    is_allowlisted,
    is_bot,
    is_person,
    kind_of,
    read_labels,
)
from stream.harness.ranking import Ranking, ranking, roc_auc

if TYPE_CHECKING:
    from stream.harness.controls import Controls

__all__ = [
    "FIRST_ACTION_TARGET_S",
    "ActorRow",
    "LabelRow",
    "Report",
    "evaluate",
    "is_allowlisted",
    "is_bot",
    "is_person",
    "median_over_all",
    "meets_target",
    "percentile",
    "precision_recall",
    "read_labels",
    "roc_auc",
]


# "caught while it happens": issue 13's target for the first action, in event time
FIRST_ACTION_TARGET_S = 1800.0


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (``q`` in 0..100); None for no values."""
    if not values:
        return None
    xs = sorted(values)
    k = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def median_over_all(times: Sequence[float | None]) -> float | None:
    """Median time to first action over every actor, an actor never acted on (``None``)
    counting as never: ``None`` when the middle of them was never acted on (or for no
    actors). Unlike a median over the actors acted on, catching more of the slow ones
    can only lower it."""
    if not times:
        return None
    xs = sorted(math.inf if t is None else t for t in times)
    mid = (xs[(len(xs) - 1) // 2] + xs[len(xs) // 2]) / 2  # never stays never
    return None if math.isinf(mid) else mid


@dataclass
class ActorRow:
    actor: str
    label: str
    max_score: float | None  # None: the model never scored this actor
    final_action: str
    first_event_ts: float | None
    challenge_s: float | None  # first challenge (or block) after the first event
    block_s: float | None

    @property
    def scored(self) -> bool:
        return self.max_score is not None

    @property
    def acted(self) -> bool:
        return self.challenge_s is not None or self.block_s is not None

    @property
    def first_action_s(self) -> float | None:
        times = [t for t in (self.challenge_s, self.block_s) if t is not None]
        return min(times) if times else None


@dataclass
class LabelRow:
    label: str
    kind: str  # bot | person | allowlisted
    actors: int
    acted: int
    challenged: int
    blocked: int
    challenge_median_s: float | None  # first action (challenge, or a block straight away)
    challenge_p95_s: float | None
    block_median_s: float | None
    block_p95_s: float | None
    scored: int = 0
    # first acted on within FIRST_ACTION_TARGET_S of the actor's first event
    within_target: int = 0
    # median time to first action over all the label's actors (never acted on = never;
    # None: the middle actor was never acted on)
    first_action_median_all_s: float | None = None

    @property
    def recall(self) -> float:
        """Share of the label's actors acted on (for people: the share wrongly acted on)."""
        return self.acted / self.actors if self.actors else 0.0


def meets_target(row: LabelRow) -> bool:
    """The first-action target: the median time to first action over all the label's
    actors (never acted on = never) at most ``FIRST_ACTION_TARGET_S``."""
    median = row.first_action_median_all_s
    return median is not None and median <= FIRST_ACTION_TARGET_S


@dataclass
class Report:
    labels: list[LabelRow]
    actors: list[ActorRow]
    precision: float | None
    summary: dict[str, Any] = field(default_factory=dict)
    ranking: Ranking | None = None
    # filled by the callers that have them (see stream.harness.controls / splits)
    controls: Controls | None = None
    resolution: Resolution | None = None
    split: dict[str, Any] | None = None

    def row(self, label: str) -> LabelRow | None:
        return next((r for r in self.labels if r.label == label), None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            "precision": self.precision,
            "ranking": self.ranking.as_dict() if self.ranking is not None else None,
            "controls": self.controls.as_dict() if self.controls is not None else None,
            "labels_resolution": (
                self.resolution.as_dict() if self.resolution is not None else None
            ),
            "split": self.split,
            "labels": [{**vars(r), "recall": r.recall} for r in self.labels],
            "actors": [
                {**vars(a), "scored": a.scored, "first_action_s": a.first_action_s}
                for a in self.actors
            ],
        }


def evaluate(
    labels: Mapping[str, str],
    decisions: Iterable[Mapping[str, Any]],
    first_seen: Mapping[str, float],
    max_score: Mapping[str, float],
    include_shadow: bool = False,
    fpr: float = 0.01,
    last_score: Mapping[str, float] | None = None,
) -> Report:
    """Per-label and overall figures of a run (see the module docstring); with
    ``last_score`` (each actor's latest score), the AUC by it too."""
    firsts: dict[str, dict[str, float]] = {}
    final: dict[str, tuple[float, str]] = {}
    for d in decisions:
        actor = d["actor"]
        if actor not in labels or (d.get("shadow") and not include_shadow):
            continue
        action, ts = d["action"], float(d["ts"])
        if actor not in final or ts >= final[actor][0]:
            final[actor] = (ts, action)
        if action in ("challenge", "block"):
            seen = firsts.setdefault(actor, {})
            if action not in seen or ts < seen[action]:
                seen[action] = ts
    rows: list[ActorRow] = []
    for actor, label in sorted(labels.items()):
        start = first_seen.get(actor)
        f = firsts.get(actor, {})

        def since(
            action: str, f: dict[str, float] = f, start: float | None = start
        ) -> float | None:
            if action not in f:
                return None
            return max(0.0, f[action] - start) if start is not None else None

        challenge = since("challenge")
        block = since("block")
        if challenge is None and block is not None:
            challenge = block  # blocked straight away: the first action is the block
        score = max_score.get(actor)
        rows.append(
            ActorRow(
                actor,
                label,
                None if score is None else round(score, 4),
                final.get(actor, (0.0, "allow"))[1],
                start,
                challenge,
                block,
            )
        )
    by_label: dict[str, list[ActorRow]] = {}
    for r in rows:
        by_label.setdefault(r.label, []).append(r)
    label_rows = []
    for label in sorted(by_label, key=lambda x: (not is_person(x), is_allowlisted(x), x)):
        rs = by_label[label]
        ch = [r.challenge_s for r in rs if r.challenge_s is not None]
        bl = [r.block_s for r in rs if r.block_s is not None]
        firsts_all = [r.first_action_s for r in rs]
        label_rows.append(
            LabelRow(
                label,
                kind_of(label),
                len(rs),
                sum(r.acted for r in rs),
                sum(r.challenge_s is not None for r in rs),
                sum(r.block_s is not None for r in rs),
                percentile(ch, 50),
                percentile(ch, 95),
                percentile(bl, 50),
                percentile(bl, 95),
                scored=sum(r.scored for r in rs),
                within_target=sum(t is not None and t <= FIRST_ACTION_TARGET_S for t in firsts_all),
                first_action_median_all_s=median_over_all(firsts_all),
            )
        )
    acted = [r for r in rows if r.acted]  # an allowlisted actor acted on is no true positive
    true_pos = sum(is_bot(r.label) for r in acted)
    precision = true_pos / len(acted) if acted else None
    people = [r for r in rows if is_person(r.label)]
    bots = [r for r in rows if is_bot(r.label)]
    people_acted = sum(r.acted for r in people)
    bot_times = [t for r in bots if (t := r.first_action_s) is not None]
    summary = {
        "actors": len(rows),
        "bots": len(bots),
        "people": len(people),
        "scored": sum(r.scored for r in rows),
        "bot_recall": (sum(r.acted for r in bots) / len(bots)) if bots else None,
        "people_acted": people_acted,
        "people_acted_share": people_acted / len(people) if people else None,
        "people_challenged": sum(r.challenge_s is not None for r in people),
        "people_blocked": sum(r.block_s is not None for r in people),
        "allowlisted_acted_on": sum(r.acted for r in rows if is_allowlisted(r.label)),
        "precision": precision,
        "bot_first_action_median_s": percentile(bot_times, 50),
    }
    rank = ranking(labels, max_score, fpr, latest=last_score)
    summary.update(
        {"roc_auc": rank.auc_all, "roc_auc_scored": rank.auc_scored, "unscored": rank.unscored}
    )
    if rank.auc_latest is not None:
        summary["roc_auc_latest"] = rank.auc_latest
    return Report(label_rows, rows, precision, summary, rank)


def precision_recall(
    labels: Mapping[str, str], flagged: Iterable[str]
) -> tuple[float | None, float | None]:
    """Precision and recall of ``flagged`` actors (bots positive, people negative)."""
    flagged_set = set(flagged) & {a for a, lab in labels.items() if not is_allowlisted(lab)}
    bots = {a for a, lab in labels.items() if is_bot(lab)}
    tp = len(flagged_set & bots)
    precision = tp / len(flagged_set) if flagged_set else None
    recall = tp / len(bots) if bots else None
    return precision, recall
