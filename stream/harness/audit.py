"""After a chaos run: is every event accounted for, exactly once? (pure)

Recomputes everything from scratch — the whole ``requests`` log, in partition order,
through a fresh pipeline — and compares with what the workers left behind: the actor
states in the changelog, the dead letters and the decisions.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from models import REGISTRY
from stream.core.actor_state import ActorState
from stream.core.batch import Limits
from stream.core.partition_detector import PartitionDetector
from stream.core.policy import Policy
from stream.core.records import DeadLetter, Decision
from stream.core.windows import hash_key, use_hash_key

COMPARED = (
    "events",
    "views",
    "requests_per_hour",
    "requests_per_day",
    "profiles_per_hour",
    "profiles_per_day",
    "errors_per_hour",
)


@dataclass
class KRecord:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass
class AuditResult:
    events_published: int
    malformed_published: int
    events_counted: int = 0
    unaccounted: int = 0
    double_counted: int = 0
    counter_mismatches: int = 0
    malformed_dead_lettered: int = 0
    deadletter_duplicates: int = 0
    decisions_expected: int = 0
    decisions_missing: int = 0
    decisions_unexpected: int = 0
    decisions_redelivered: int = 0
    decision_id_conflicts: int = 0
    examples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.unaccounted == 0
            and self.double_counted == 0
            and self.counter_mismatches == 0
            and self.decisions_missing == 0
            and self.decisions_unexpected == 0
            and self.decision_id_conflicts == 0
        )

    def as_dict(self) -> dict[str, Any]:
        return {**vars(self), "ok": self.ok}


def from_scratch(
    records: Iterable[KRecord],
    policy: Policy,
    topic: str,
    now: float,
    batch: int = 2000,
    key: bytes = b"",
) -> tuple[dict[str, ActorState], set[str], set[tuple[int, int]]]:
    """States, decision ids and dead-lettered (partition, offset) of one clean pass,
    with the workers' hash ``key`` (their distinct counts are compared)."""
    before = hash_key()
    use_hash_key(key)
    try:
        return _from_scratch(records, policy, topic, now, batch)
    finally:
        use_hash_key(before)


def _from_scratch(
    records: Iterable[KRecord], policy: Policy, topic: str, now: float, batch: int
) -> tuple[dict[str, ActorState], set[str], set[tuple[int, int]]]:
    by_part: dict[int, list[KRecord]] = defaultdict(list)
    for r in records:
        by_part[r.partition].append(r)
    spec = REGISTRY.get("hst").spec()
    states: dict[str, ActorState] = {}
    decisions: set[str] = set()
    dead: set[tuple[int, int]] = set()
    for p, recs in by_part.items():
        recs.sort(key=lambda r: r.offset)
        det = PartitionDetector(
            topic, p, policy, REGISTRY.build(spec), spec.label(), Limits(), clock=lambda: now
        )
        for i in range(0, len(recs), batch):
            out = det.process(recs[i : i + batch])
            decisions.update(d.decision_id for d in out.decisions if not d.shadow)
            dead.update((p, dl.source.offset) for dl in out.deadletters)
        states.update(det.actors.items())
    return states, decisions, dead


def audit(
    *,
    expected_states: dict[str, ActorState],
    expected_decisions: set[str],
    expected_dead: set[tuple[int, int]],
    actual_states: dict[str, ActorState],
    decisions: list[Decision],
    deadletters: list[DeadLetter],
    events_published: int,
    malformed_published: int,
) -> AuditResult:
    res = AuditResult(events_published, malformed_published)
    expected_total = sum(s.counters.events for s in expected_states.values())
    for actor, exp in expected_states.items():
        got = actual_states.get(actor)
        got_events = got.counters.events if got is not None else 0
        res.events_counted += min(got_events, exp.counters.events)
        res.unaccounted += max(0, exp.counters.events - got_events)
        res.double_counted += max(0, got_events - exp.counters.events)
        if got is not None:
            diffs = [
                f"{m} {getattr(got.counters, m)} != {getattr(exp.counters, m)}"
                for m in COMPARED
                if getattr(got.counters, m) != getattr(exp.counters, m)
            ]
            if diffs:
                res.counter_mismatches += 1
                if len(res.examples) < 5:
                    res.examples.append(f"{actor}: {'; '.join(diffs)}")
    if expected_total != events_published or len(expected_dead) != malformed_published:
        # the clean pass must see exactly what was published: otherwise the broker lost data
        res.examples.append(
            f"clean pass saw {expected_total} events and {len(expected_dead)} "
            f"bad messages of {events_published} and {malformed_published} "
            "published: the broker lost some"
        )
        res.unaccounted += max(0, events_published - expected_total)
        res.unaccounted += max(0, malformed_published - len(expected_dead))
    seen_dead = Counter((d.source.partition, d.source.offset) for d in deadletters)
    res.deadletter_duplicates = sum(n - 1 for n in seen_dead.values())
    res.malformed_dead_lettered = len(expected_dead & set(seen_dead))
    missing_dead = len(expected_dead - set(seen_dead))
    res.unaccounted += missing_dead
    ids = Counter(d.decision_id for d in decisions if not d.shadow)
    res.decisions_expected = len(expected_decisions)
    res.decisions_missing = len(expected_decisions - set(ids))
    res.decisions_unexpected = len(set(ids) - expected_decisions)
    res.decisions_redelivered = sum(n - 1 for n in ids.values())
    by_trigger: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for d in decisions:
        if not d.shadow:
            by_trigger[(d.actor, d.action, d.trigger_event_id)].add(d.decision_id)
    res.decision_id_conflicts = sum(1 for s in by_trigger.values() if len(s) > 1)
    return res
