"""The whole pipeline in one process, without Kafka: for offline evaluation and tuning.

Events go through the same code as on the stream — partitioned by actor key like
Kafka would, in micro-batches, with the correlator's group signals fed back into the
detectors between batches — so an offline run is a faithful preview of a live one.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson

from models import REGISTRY, ModelSpec
from stream.core.correlation import Activity, GroupCorrelator, GroupSignal, subnet_of
from stream.core.partition_detector import Limits, PartitionDetector
from stream.core.policy import Policy
from stream.core.records import Decision
from stream.core.validation import actor_key
from stream.kafka.writer import partition_for


@dataclass
class _Rec:
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass
class OfflineResult:
    decisions: list[Decision] = field(default_factory=list)
    max_score: dict[str, float] = field(default_factory=dict)
    first_seen: dict[str, float] = field(default_factory=dict)
    stats: Counter[str] = field(default_factory=Counter)


def key_of(doc: dict[str, object]) -> bytes | None:
    ids = [doc.get(k) for k in ("account_id", "session_id", "ip", "tenant")]
    norm = [
        str(v) if isinstance(v, str | int) and not isinstance(v, bool) and v != "" else None
        for v in ids
    ]
    key = actor_key(*norm)
    return key.encode() if key else None


class OfflineRun:
    def __init__(
        self,
        policy: Policy,
        spec: ModelSpec,
        partitions: int = 8,
        batch_size: int = 2000,
        now: float | None = None,
    ) -> None:
        self.policy = policy
        self.partitions = partitions
        self.batch_size = batch_size
        clock_now = now if now is not None else time.time()
        self.detectors = [
            PartitionDetector(
                "requests",
                p,
                policy,
                REGISTRY.build(spec),
                spec.label(),
                Limits(),
                clock=lambda: clock_now,
            )
            for p in range(partitions)
        ]
        self.correlators = [GroupCorrelator(policy) for _ in range(partitions)]
        self.offsets = [0] * partitions
        self.result = OfflineResult()

    def run(self, events: Iterable[dict[str, object]]) -> OfflineResult:
        batch: list[dict[str, object]] = []
        for doc in events:
            batch.append(doc)
            if len(batch) >= self.batch_size:
                self._batch(batch)
                batch = []
        if batch:
            self._batch(batch)
        return self.result

    def _batch(self, docs: list[dict[str, object]]) -> None:
        res = self.result
        by_part: dict[int, list[_Rec]] = defaultdict(list)
        for doc in docs:
            key = key_of(doc)
            p = partition_for(key, self.partitions) if key else 0
            by_part[p].append(_Rec(self.offsets[p], key, orjson.dumps(doc)))
            self.offsets[p] += 1
            actor = key.decode() if key else None
            ts = doc.get("ts")
            if actor and isinstance(ts, int | float) and actor not in res.first_seen:
                res.first_seen[actor] = float(ts)
        activities: dict[int, list[Activity]] = defaultdict(list)
        for p, recs in by_part.items():
            out = self.detectors[p].process(recs)
            res.decisions.extend(out.decisions)
            res.stats.update(out.stats)
            for actor, score, _ts, slot in out.scores:
                if slot == "live" and score > res.max_score.get(actor, -1.0):
                    res.max_score[actor] = score
            for act in out.activities:
                activities[partition_for(subnet_of(act.ip).encode(), self.partitions)].append(act)
        signals: dict[int, list[GroupSignal]] = defaultdict(list)
        for p, acts in activities.items():
            sigs, _ = self.correlators[p].process(acts)
            for sig in sigs:
                signals[partition_for(sig.actor.encode(), self.partitions)].append(sig)
        for p, sigs in signals.items():
            out = self.detectors[p].apply_signals(sigs)
            res.decisions.extend(out.decisions)
            res.stats.update(out.stats)
