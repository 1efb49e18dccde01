"""Detection quality of a run: recall, time to detect, precision, cost to people (pure).

Inputs are plain data: labels (``actor -> label``), decisions (dicts as on the
``decisions`` topic), each actor's first event time and maximum model score. The
negative class is ``human`` and every ``human_*`` label (people); ``allowlisted_*``
actors must never be acted on; every other label is a kind of bot.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def is_person(label: str) -> bool:
    return label == "human" or label.startswith("human_")


def is_allowlisted(label: str) -> bool:
    return label.startswith("allowlisted")


def is_bot(label: str) -> bool:
    return not (is_person(label) or is_allowlisted(label))


def read_labels(path: Path) -> dict[str, str]:
    """``actor label`` per line; blank lines and ``#`` comments skipped."""
    labels: dict[str, str] = {}
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2:
            raise ValueError(f"{path}:{n}: expected 'actor label', got {line[:80]!r}")
        labels[parts[0]] = parts[1]
    if not labels:
        raise ValueError(f"{path}: no labels")
    return labels


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (``q`` in 0..100); None for no values."""
    if not values:
        return None
    xs = sorted(values)
    k = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


@dataclass
class ActorRow:
    actor: str
    label: str
    max_score: float
    final_action: str
    first_event_ts: float | None
    challenge_s: float | None  # first challenge (or block) after the first event
    block_s: float | None

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
    challenge_median_s: float | None
    challenge_p95_s: float | None
    block_median_s: float | None
    block_p95_s: float | None

    @property
    def recall(self) -> float:
        return self.acted / self.actors if self.actors else 0.0


@dataclass
class Report:
    labels: list[LabelRow]
    actors: list[ActorRow]
    precision: float | None
    summary: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            "precision": self.precision,
            "labels": [{**vars(r), "recall": r.recall} for r in self.labels],
            "actors": [{**vars(a), "first_action_s": a.first_action_s} for a in self.actors],
        }


def _since(firsts: Mapping[str, float], action: str, start: float | None) -> float | None:
    if action not in firsts or start is None:
        return None
    return max(0.0, firsts[action] - start)


def evaluate(
    labels: Mapping[str, str],
    decisions: Iterable[Mapping[str, Any]],
    first_seen: Mapping[str, float],
    max_score: Mapping[str, float],
    include_shadow: bool = False,
) -> Report:
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
        rows.append(
            ActorRow(
                actor,
                label,
                round(max_score.get(actor, 0.0), 4),
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
        kind = "person" if is_person(label) else "allowlisted" if is_allowlisted(label) else "bot"
        label_rows.append(
            LabelRow(
                label,
                kind,
                len(rs),
                sum(r.acted for r in rs),
                sum(r.challenge_s is not None for r in rs),
                sum(r.block_s is not None for r in rs),
                percentile(ch, 50),
                percentile(ch, 95),
                percentile(bl, 50),
                percentile(bl, 95),
            )
        )
    acted = [r for r in rows if r.acted]
    true_pos = sum(is_bot(r.label) for r in acted)
    precision = true_pos / len(acted) if acted else None
    people = [r for r in rows if is_person(r.label)]
    bots = [r for r in rows if is_bot(r.label)]
    summary = {
        "actors": len(rows),
        "bots": len(bots),
        "people": len(people),
        "bot_recall": (sum(r.acted for r in bots) / len(bots)) if bots else None,
        "people_challenged": sum(r.challenge_s is not None for r in people),
        "people_blocked": sum(r.block_s is not None for r in people),
        "allowlisted_acted_on": sum(r.acted for r in rows if is_allowlisted(r.label)),
        "precision": precision,
    }
    return Report(label_rows, rows, precision, summary)


def roc_auc(labels: Mapping[str, str], scores: Mapping[str, float]) -> float | None:
    """ROC AUC of ``scores`` (missing = 0) for bots against people; None without both.

    Mann-Whitney form: the probability that a random bot scores above a random person,
    ties counting half. Allowlisted actors are left out.
    """
    pos = [scores.get(a, 0.0) for a, lab in labels.items() if is_bot(lab)]
    neg = [scores.get(a, 0.0) for a, lab in labels.items() if is_person(lab)]
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
