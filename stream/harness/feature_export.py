"""Per-actor feature vectors from recorded events, for training models offline.

Each event goes through the worker's own code: the contract check
(:func:`~stream.core.validation.validate_doc`), the actor's windows
(:class:`~stream.core.actor_state.ActorState`) and :func:`stream.core.features.features`,
the function whose output the worker scores. One row per actor per event-time interval
in which it was active: its features as of its last event in that interval — what the
worker would have scored at the end of a batch there. The columns are the feature names
of the code (:data:`~stream.core.features.FEATURE_NAMES`), whatever they are today.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from stream.core.actor_state import ActorState
from stream.core.features import FEATURE_NAMES, features
from stream.core.validation import Invalid, validate_doc
from stream.harness.evaluation import is_bot

FIXED_COLUMNS = ("actor", "label", "bot", "interval_start", "ts", "events")


@dataclass
class ExportStats:
    events: int = 0
    invalid: int = 0  # refused by the contract (the worker would dead-letter them)
    late: int = 0  # older than every window of their actor
    rows: int = 0
    actors: set[str] = field(default_factory=set)


@dataclass
class _Open:
    bucket: int
    ts: float
    events: int


def feature_rows(
    events: Iterable[dict[str, Any]],
    interval_s: float,
    stats: ExportStats,
    now: float = float("inf"),
) -> Iterator[tuple[str, float, float, int, dict[str, float]]]:
    """``(actor, interval_start, ts, events in the interval, features)``, in event-time
    order of the intervals' ends. ``events`` must be in event-time order (as
    :func:`~stream.harness.offline.read_events_file` returns them)."""
    states: dict[str, ActorState] = {}
    open_: dict[str, _Open] = {}
    for offset, doc in enumerate(events):
        stats.events += 1
        ev = validate_doc(doc, now=now)
        if isinstance(ev, Invalid):
            stats.invalid += 1
            continue
        state = states.get(ev.actor)
        if state is None:
            state = states[ev.actor] = ActorState()
        elif state.too_late(ev.ts):
            stats.late += 1
            continue
        bucket = int(ev.ts // interval_s)
        cur = open_.get(ev.actor)
        if cur is not None and bucket > cur.bucket:  # the actor's interval ended: its row
            yield _row(ev.actor, cur, state, interval_s)
            cur = None
        state.apply(ev, offset)
        if cur is None:
            open_[ev.actor] = _Open(bucket, ev.ts, 1)
        else:
            cur.ts, cur.events = max(cur.ts, ev.ts), cur.events + 1
    for actor, cur in sorted(open_.items(), key=lambda kv: kv[1].ts):
        yield _row(actor, cur, states[actor], interval_s)


def _row(
    actor: str, cur: _Open, state: ActorState, interval_s: float
) -> tuple[str, float, float, int, dict[str, float]]:
    return actor, cur.bucket * interval_s, cur.ts, cur.events, features(state.counters, cur.ts)


def export(
    events: Iterable[dict[str, Any]],
    labels: dict[str, str],
    out: Path,
    *,
    interval_s: float = 300.0,
    name_actor: Callable[[str], str] = str,
) -> ExportStats:
    """Write ``out/features.csv`` and ``out/features.jsonl`` (the same rows)."""
    out.mkdir(parents=True, exist_ok=True)
    stats = ExportStats()
    columns = [*FIXED_COLUMNS, *FEATURE_NAMES]
    with (
        open(out / "features.csv", "w", newline="") as csv_file,
        open(out / "features.jsonl", "wb") as jsonl,
    ):
        writer = csv.writer(csv_file)
        writer.writerow(columns)
        for actor, start, ts, count, vector in feature_rows(events, interval_s, stats):
            label = labels.get(actor, "")
            row: dict[str, Any] = {
                "actor": name_actor(actor),
                "label": label,
                "bot": (1 if is_bot(label) else 0) if label else None,
                "interval_start": start,
                "ts": ts,
                "events": count,
                **{name: vector[name] for name in FEATURE_NAMES},
            }
            writer.writerow(["" if row[c] is None else row[c] for c in columns])
            jsonl.write(orjson.dumps(row) + b"\n")
            stats.rows += 1
            stats.actors.add(actor)
    return stats
