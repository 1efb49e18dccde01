"""What the per-partition detector takes and gives: the records it reads, the limits
it works within, and :class:`BatchResult`, what one batch produced for the detector agent
to publish and to count."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

from stream.core.actor_state import ActorState
from stream.core.internal_records import Activity, FeedItem
from stream.core.records import DeadLetter, Decision, Score
from stream.core.validation import MAX_FUTURE_SKEW_S


class Record(Protocol):
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


@dataclass
class BatchResult:
    """What one batch (requests, signals, manual decisions or outcomes) produced, for the
    agent to publish and to count."""

    decisions: list[Decision] = field(default_factory=list)
    deadletters: list[DeadLetter] = field(default_factory=list)
    forwards: list[tuple[bytes, bytes]] = field(default_factory=list)  # (key, value) re-keyed
    changed: dict[str, ActorState] = field(default_factory=dict)  # actor -> state to persist
    evicted: list[str] = field(default_factory=list)  # actors whose state is dropped
    stats: Counter[str] = field(default_factory=Counter)
    scores: list[Score] = field(default_factory=list)  # live and shadow
    activities: list[Activity] = field(default_factory=list)  # for the correlator
    feed: list[FeedItem] = field(default_factory=list)  # for incidents and the ledger
    # decisions with the Kafka timestamp (ms) of the record that triggered them
    latency_marks: list[tuple[Decision, float | None]] = field(default_factory=list)
    # offset of the first record left for a later batch (event-time alignment), if any
    stopped_at: int | None = None
    # (actor, event time, feature vector) of every score, when the detector exports them
    vectors: list[tuple[str, float, dict[str, float]]] = field(default_factory=list)


@dataclass
class Limits:
    """Processing limits taken from settings."""

    max_event_bytes: int = 64 * 1024
    max_future_skew_s: float = MAX_FUTURE_SKEW_S
    actor_idle_ttl_s: float = 2 * 86400.0
    # an actor idle in event time whose events still arrive (an old log replayed into a
    # worker whose partitions are at today's time) is kept this long of processing time
    # after its last one, not expired in the middle of its session
    idle_grace_s: float = 3600.0
    hot_actors: int = 5120  # per partition, decoded; the rest compressed (stream.core.actor_table)
    max_actors: int = 250_000  # per partition in all; the least recently active beyond it go
    labels_per_hour: int = 600  # labels a partition's models learn an hour; beyond: verdict only
