"""What one partition's batch publishes, and to which topic: decisions, dead letters,
re-keyed events, the incident feed and account-per-IP activity for the correlator (both
packed: :mod:`stream.kafka.packs`) and model scores first, then each changed (or evicted)
actor's state to the changelog — in that order, so that a crash between the two
re-creates the same results (docs/architecture.md).
Shared by the detector agent and the bench's detector as a Faust agent."""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import TypeVar

import structlog

from stream.core.actor_codec import encode
from stream.core.batch import BatchResult
from stream.core.correlation import subnet_of
from stream.kafka.writer import Message, Publish
from stream.settings import Settings

log = structlog.get_logger(__name__)
S = TypeVar("S")


def state_bytes(
    state: S, encode_state: Callable[[S], bytes], stats: MutableMapping[str, int], what: str
) -> bytes | None:
    """``encode_state(state)``, a state's record (its changelog record, or a summary of it);
    None (for a changelog, a tombstone: after a restart the state starts afresh) when it
    does not encode — a bug, or a value no
    decoder should have let in — counted (``state_unencodable``) and logged. One state
    must never stop a worker: a stopped worker would meet it again after every restart."""
    try:
        return encode_state(state)
    except Exception as exc:
        stats["state_unencodable"] += 1
        log.error("state_unencodable", what=what, error=f"{type(exc).__name__}: {exc}")
        return None


def add_outcome(plan: Publish, s: Settings, partition: int, out: BatchResult) -> None:
    """What one partition's outcome publishes: results first, then its state."""
    results: list[Message] = plan.results
    for d in out.decisions:
        results.append((s.topic_decisions, d.actor.encode(), d.encode(), None))
    for dl in out.deadletters:
        results.append((s.topic_deadletter, dl.key, dl.encode(), None))
    for key, value in out.forwards:
        results.append((s.topic_requests, key, value, None))
    if s.pack_internal_records:  # one record per partition and batch (stream.kafka.packs)
        packed = plan.packed
        for item in out.feed:
            packed.append((s.incident_feed_topic, item.key.encode(), item.encode()))
        for act in out.activities:
            packed.append((s.activity_topic, subnet_of(act.ip).encode(), act.encode()))
    else:  # one record each, as versions before packs wrote and read them
        for item in out.feed:
            results.append((s.incident_feed_topic, item.key.encode(), item.encode(), None))
        for act in out.activities:
            results.append((s.activity_topic, subnet_of(act.ip).encode(), act.encode(), None))
    for sc in out.scores:
        results.append((s.scores_topic, sc.actor.encode(), sc.encode(), None))
    for actor, state in out.changed.items():
        record = state_bytes(state, encode, out.stats, "actor state")
        plan.state.append((s.state_topic, actor.encode(), record, partition))
    for actor in out.evicted:
        plan.state.append((s.state_topic, actor.encode(), None, partition))
    for d in out.decisions:
        log.info(
            "decision",
            actor=d.actor,
            action=d.action,
            reasons=d.reasons,
            score=d.score,
            shadow=d.shadow,
            decision_id=d.decision_id,
            origin=d.origin,
            **({"by": d.by} if d.by else {}),
        )
