"""How well the model's scores rank bots above people (pure).

Every figure here is computed over labelled actors with each actor's *maximum* live
score; an actor the model never scored is not a 0 but "unscored", and each figure says
how it treats them:

* **AUC over all labelled actors** — an unscored actor ranks below every scored one
  (ties among the unscored count half, as any tie does). This measures the model *and*
  its warm-up and evidence gates together: a bot that is never scored is a miss.
* **AUC among scored actors** — the unscored are left out (and counted). This measures
  the ranking of the model where it spoke.
* **Per bot label** — each bot label against all people, both ways.
* **AUC by the latest score** (when given) — each actor's latest score instead of its
  highest, over all labelled actors as above: the model's judgement with the most
  evidence. The highest is what can act while it happens (and the headline); a person
  scored many times has many draws at a high one, so the two can differ.
* **Recall at a fixed false-positive rate** — the lowest threshold that lets at most
  ``fpr`` of the people (all of them, scored or not) score above it, and the share of bots
  above that threshold; an unscored bot is never above it.

Allowlisted actors are left out of every figure (they are neither bots to catch nor
people). AUC is the Mann-Whitney probability that a random bot outranks a random person.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from stream.harness.labels import is_bot, is_person

UNSCORED = -math.inf  # ranks below every score in [0, 1]


def auc(pos: Sequence[float], neg: Sequence[float]) -> float | None:
    """ROC AUC of positives against negatives, ties counting half; None without both."""
    if not pos or not neg:
        return None
    ranked = sorted([(s, 1) for s in pos] + [(s, 0) for s in neg])
    rank_sum, i = 0.0, 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        avg_rank = (i + 1 + j) / 2.0  # 1-based average rank of the tie group
        rank_sum += avg_rank * sum(flag for _, flag in ranked[i:j])
        i = j
    n_pos, n_neg = len(pos), len(neg)
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def roc_auc(
    labels: Mapping[str, str], scores: Mapping[str, float], among_scored: bool = False
) -> float | None:
    """ROC AUC of bots against people from each actor's score.

    An actor without a score ranks below every scored actor; with ``among_scored`` it is
    left out instead. None when either class is empty.
    """
    pos, neg = [], []
    for actor, label in labels.items():
        s = scores.get(actor)
        if s is None and among_scored:
            continue
        value = UNSCORED if s is None else s
        if is_bot(label):
            pos.append(value)
        elif is_person(label):
            neg.append(value)
    return auc(pos, neg)


@dataclass
class AtFpr:
    """Recall at a fixed false-positive rate, and the threshold that gives it."""

    target_fpr: float
    threshold: float | None  # scores strictly above it count; None: no person scored
    fpr: float | None  # the people above the threshold, as a share of all people
    recall: float | None  # bots above it, as a share of all bots (unscored ones included)
    per_label: dict[str, float] = field(default_factory=dict)


def threshold_at_fpr(people: Sequence[float], fpr: float) -> float:
    """The lowest threshold ``t`` with at most ``fpr`` of ``people`` strictly above it.

    ``people`` holds every person's score, ``UNSCORED`` for the unscored. The threshold
    is one of the people's scores (or ``UNSCORED`` when the budget covers every scored
    person: then every scored actor counts as above it).
    """
    allowed = math.floor(fpr * len(people) + 1e-9)  # people that may be above it
    desc = sorted(people, reverse=True)
    if allowed >= len(desc):
        return UNSCORED
    return desc[allowed]  # the (allowed+1)-th highest: exactly ``allowed`` or fewer above


def recall_at_fpr(
    labels: Mapping[str, str], scores: Mapping[str, float], fpr: float = 0.01
) -> AtFpr:
    people = [scores.get(a, UNSCORED) for a, lab in labels.items() if is_person(lab)]
    bots = {a: lab for a, lab in labels.items() if is_bot(lab)}
    if not people or not bots:
        return AtFpr(fpr, None, None, None)
    t = threshold_at_fpr(people, fpr)

    def above(actor: str) -> bool:
        s = scores.get(actor)
        return s is not None and s > t

    by_label: dict[str, list[bool]] = {}
    for a, lab in bots.items():
        by_label.setdefault(lab, []).append(above(a))
    hits = [h for hs in by_label.values() for h in hs]
    return AtFpr(
        fpr,
        None if t == UNSCORED else t,
        sum(p > t for p in people) / len(people),
        sum(hits) / len(hits),
        {lab: sum(hs) / len(hs) for lab, hs in sorted(by_label.items())},
    )


@dataclass
class LabelRanking:
    label: str
    actors: int
    scored: int
    auc_all: float | None
    auc_scored: float | None
    auc_latest: float | None = None  # by each actor's latest score, when given


@dataclass
class Ranking:
    """The ranking figures of one run (see the module docstring)."""

    bots: int
    people: int
    scored_bots: int
    scored_people: int
    auc_all: float | None
    auc_scored: float | None
    at_fpr: AtFpr
    per_label: list[LabelRanking]
    auc_latest: float | None = None  # by each actor's latest score, when given

    @property
    def unscored(self) -> int:
        return self.bots + self.people - self.scored_bots - self.scored_people

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "unscored": self.unscored}


def ranking(
    labels: Mapping[str, str],
    scores: Mapping[str, float],
    fpr: float = 0.01,
    latest: Mapping[str, float] | None = None,
) -> Ranking:
    """Every ranking figure of ``scores`` (actor -> maximum score) on ``labels``; with
    ``latest`` (actor -> latest score) the AUCs by it too."""
    people = {a: lab for a, lab in labels.items() if is_person(lab)}
    bot_labels = sorted({lab for lab in labels.values() if is_bot(lab)})
    per_label = []
    for lab in bot_labels:
        sub = {**people, **{a: x for a, x in labels.items() if x == lab}}
        members = [a for a, x in labels.items() if x == lab]
        per_label.append(
            LabelRanking(
                lab,
                len(members),
                sum(a in scores for a in members),
                roc_auc(sub, scores),
                roc_auc(sub, scores, among_scored=True),
                None if latest is None else roc_auc(sub, latest),
            )
        )
    bots = [a for a, lab in labels.items() if is_bot(lab)]
    return Ranking(
        bots=len(bots),
        people=len(people),
        scored_bots=sum(a in scores for a in bots),
        scored_people=sum(a in scores for a in people),
        auc_all=roc_auc(labels, scores),
        auc_scored=roc_auc(labels, scores, among_scored=True),
        at_fpr=recall_at_fpr(labels, scores, fpr),
        per_label=per_label,
        auc_latest=None if latest is None else roc_auc(labels, latest),
    )
