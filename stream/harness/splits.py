"""Train/test splits for an offline model evaluation: by time, or by actor.

The models learn online (score a vector, then learn it when the actor is trusted), so a
split decides two things: the order in which events are replayed, and which actors the
figures are computed on.

* ``time`` — events are replayed in event-time order, all of them: the model learns over
  the whole stream as it would live. The test actors are those whose *first* event is in
  the last ``test_share`` of the event-time span; every figure is computed on them only.
  Each test vector is scored before the model learns it; a test actor's later vectors are
  scored by a model that may have learnt its earlier ones (as live).
* ``actor`` — a hash of the actor key puts ``test_share`` of the actors in the test set.
  The train actors' events are replayed first, in event-time order; then the test actors'
  events, in event-time order, moved later by a whole number of days so that event time
  never goes back (hour of day and account age are unchanged). Every figure is computed on
  the test actors only; the model meets them after it has learnt from the train actors,
  and learns from them too as it goes (online: score, then learn).

In both, what is learnt is decided by the pipeline (trusted traffic only, see
``stream.core.scoring``), never by the labels; the supervised part of a model learns
from its fitted prior (``models/prior.json``) and from outcomes, which an offline replay
does not publish.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from hashlib import blake2b
from typing import Any

from stream.core.validation import parse_ts
from stream.harness.traffic import event_key

KINDS = ("none", "time", "actor")
DAY_S = 86400.0


@dataclass
class Split:
    kind: str
    test_share: float
    events: list[dict[str, Any]]  # in the order to replay
    test: set[str] | None  # test actors; None: every actor
    cut_ts: float | None = None  # time split: first events at or after it are test
    shift_s: float = 0.0  # actor split: how much later the test actors' events are replayed

    def labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        """The labels the figures are computed on."""
        if self.test is None:
            return dict(labels)
        return {a: lab for a, lab in labels.items() if a in self.test}

    def as_dict(self, labels: Mapping[str, str]) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "test_share": self.test_share,
            "cut_ts": self.cut_ts,
            "shift_s": self.shift_s,
            "labelled_test_actors": len(self.labels(labels)),
            "labelled_train_actors": len(labels) - len(self.labels(labels)),
        }


def _ts(e: Mapping[str, Any]) -> float:
    ts = parse_ts(e.get("ts"))
    return 0.0 if ts is None else ts


def _actor(e: dict[str, Any]) -> str | None:
    key = event_key(e)
    return key.decode() if key else None


def in_test(actor: str, test_share: float) -> bool:
    """A stable, uniform hash of the actor key decides (the same in every run)."""
    h = int.from_bytes(blake2b(actor.encode(), digest_size=8).digest(), "big")
    return h / 2.0**64 < test_share


def time_split(events: list[dict[str, Any]], test_share: float = 0.3) -> Split:
    if not events:
        return Split("time", test_share, [], set())
    ordered = sorted(events, key=_ts)
    t0, t1 = _ts(ordered[0]), _ts(ordered[-1])
    cut = t1 - test_share * (t1 - t0)
    first: dict[str, float] = {}
    for e in ordered:
        a = _actor(e)
        if a is not None and a not in first:
            first[a] = _ts(e)
    return Split("time", test_share, ordered, {a for a, t in first.items() if t >= cut}, cut)


def actor_split(events: list[dict[str, Any]], test_share: float = 0.3) -> Split:
    train: list[dict[str, Any]] = []
    test: list[dict[str, Any]] = []
    actors: set[str] = set()
    for e in events:
        a = _actor(e)
        if a is not None and in_test(a, test_share):
            test.append(e)
            actors.add(a)
        else:
            train.append(e)  # events without an actor are refused anyway: with the train
    train.sort(key=_ts)
    test.sort(key=_ts)
    shift = 0.0
    if train and test and _ts(test[0]) <= _ts(train[-1]):
        shift = math.ceil((_ts(train[-1]) - _ts(test[0]) + 1.0) / DAY_S) * DAY_S
    moved = [_shifted(e, shift) for e in test] if shift else test
    return Split("actor", test_share, train + moved, actors, shift_s=shift)


def _shifted(e: dict[str, Any], shift_s: float) -> dict[str, Any]:
    out = dict(e)
    for name in ("ts", "account_created_ts"):
        v = parse_ts(out.get(name))
        if v is not None:
            out[name] = round(v + shift_s, 3)
    return out


def split(events: list[dict[str, Any]], kind: str, test_share: float = 0.3) -> Split:
    if kind not in KINDS:
        raise ValueError(f"split is one of {', '.join(KINDS)}")
    if not 0.0 < test_share < 1.0:
        raise ValueError("the test share is between 0 and 1 (exclusive)")
    if kind == "time":
        return time_split(events, test_share)
    if kind == "actor":
        return actor_split(events, test_share)
    return Split("none", test_share, sorted(events, key=_ts), None)
