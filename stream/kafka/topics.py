"""Topic names, shapes, and creating them when missing (kafka-python admin)."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import structlog
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from stream.errors import UserError
from stream.kafka.config import kafka_python_kwargs
from stream.settings import Settings

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


def topic_specs(settings: Settings) -> list[TopicSpec]:
    p = settings.partitions
    return [
        TopicSpec(settings.topic_requests, p),
        # kept longer than any decision can be in force (rule decisions in force are
        # renewed before they expire; manual ones are capped at this): a cache that
        # reads it from the beginning sees every decision in force (docs/enforcement.md)
        TopicSpec(
            settings.topic_decisions,
            p,
            {"retention.ms": str(int(settings.decisions_retention_s * 1000))},
        ),
        # co-partitioned with requests: the detector that owns an actor applies it
        # the broker's time on each record: a manual decision appended again later is refused
        TopicSpec(settings.manual_topic, p, {"message.timestamp.type": "LogAppendTime"}),
        TopicSpec(settings.outcomes_topic, p),  # co-partitioned too: labels for the owner
        TopicSpec(settings.topic_deadletter, p),
        # co-partitioned with requests: partition i holds the state of requests partition i
        TopicSpec(settings.state_topic, p, {"cleanup.policy": "compact"}),
        TopicSpec(settings.signals_topic, p),
        TopicSpec(settings.activity_topic, p),
        TopicSpec(settings.group_state_topic, p, {"cleanup.policy": "compact"}),
        TopicSpec(settings.scores_topic, p),
        TopicSpec(settings.snapshot_topic, p, {"cleanup.policy": "compact"}),
        # one partition: every worker reads all of it, in order. Never deleted: the whole
        # history is what lets every worker refuse a replayed message (stream.core.control);
        # not compacted, because a tombstone would let a writer erase that history. The
        # broker stamps append times (the issued_at window is checked against them).
        TopicSpec(
            settings.topic_control,
            1,
            {"retention.ms": "-1", "retention.bytes": "-1",
             "message.timestamp.type": "LogAppendTime"},
        ),
        TopicSpec(settings.topic_incidents, p),
        TopicSpec(settings.incident_feed_topic, p),
        TopicSpec(settings.incident_state_topic, p, {"cleanup.policy": "compact"}),
        TopicSpec(settings.ledger_topic, p),
        TopicSpec(settings.members_topic, 1, {"cleanup.policy": "compact"}),
        TopicSpec(settings.bouncers_topic, 1, {"cleanup.policy": "compact"}),
    ]


class BrokerUnavailable(UserError):
    """No Kafka broker answered at the configured address."""


@contextlib.contextmanager
def _quiet_bootstrap() -> Iterator[None]:
    """kafka-python logs every refused connection while it bootstraps (a dozen lines a
    second); the caller reports the outcome in one line, so those stay unsaid."""
    logger = logging.getLogger("kafka")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def admin_client(settings: Settings) -> KafkaAdminClient:
    timeout_s = settings.connect_timeout_s
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        left_ms = max(100, int((deadline - time.monotonic()) * 1000))
        try:
            with _quiet_bootstrap():
                return KafkaAdminClient(
                    request_timeout_ms=10000,
                    bootstrap_timeout_ms=left_ms,
                    **kafka_python_kwargs(settings),
                )
        except KafkaError as exc:  # NoBrokersAvailable and friends
            last = exc
            time.sleep(0.5)
    raise BrokerUnavailable(
        f"no Kafka broker answered at {settings.broker} within {timeout_s:.0f}s ({last}); "
        "start one with `scrapeguard broker` or set SCRAPEGUARD_BROKER / --broker"
    )


def ensure_topics(settings: Settings) -> list[str]:
    """Create the missing topics; return the names created. Existing ones are left alone."""
    admin = admin_client(settings)
    try:
        existing = set(admin.list_topics())
        missing = [t for t in topic_specs(settings) if t.name not in existing]
        created: list[str] = []
        for spec in missing:
            try:
                admin.create_topics(
                    [
                        NewTopic(
                            spec.name,
                            spec.partitions,
                            settings.replication_factor,
                            topic_configs=spec.config,
                        )
                    ]
                )
                created.append(spec.name)
            except TopicAlreadyExistsError:
                pass  # another worker won the race
        if created:
            log.info("topics_created", topics=created, partitions=settings.partitions)
        return created
    finally:
        admin.close()
