"""State in compacted changelog topics, co-partitioned with the input they summarise.

Writes go through the agent's batch writer (once per batch per changed key; a tombstone
when a key expires). Restore reads the partitions being assigned to their true end
(:mod:`stream.kafka.read_to_end`) and keeps the latest value of every key. A record
that does not decode is the error policy's "bad record on an internal topic": skipped,
counted (``unreadable``) and logged — the key starts fresh rather than the partition
stopping.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

import structlog
from aiokafka import AIOKafkaProducer

from stream.kafka.read_to_end import TopicReader
from stream.settings import Settings

log = structlog.get_logger(__name__)

T = TypeVar("T")


class StateChangelog(Generic[T]):
    """Restores ``key -> decode(value)`` per partition of a compacted changelog topic."""

    def __init__(
        self,
        settings: Settings,
        producer: AIOKafkaProducer,
        topic: str,
        decode: Callable[[bytes], T],
    ) -> None:
        self.settings = settings
        self.topic = topic
        self.producer = producer
        self.decode = decode
        self.unreadable = 0

    def reader(self, handlers: dict[str, Any], partitions: list[int]) -> TopicReader:
        """The reader of a restore (a stand-in in the Kafka layer's unit tests)."""
        return TopicReader(self.settings, handlers, partitions, producer=self.producer)

    async def restore(self, partitions: Iterable[int]) -> dict[int, dict[str, T]]:
        """Latest value of every key in ``partitions``."""
        parts = sorted(set(partitions))
        result: dict[int, dict[str, T]] = {p: {} for p in parts}
        if not parts:
            return result
        started = time.monotonic()
        counts = {"records": 0, "unreadable": 0}

        def on_record(msg: Any) -> None:
            if msg.key is None:
                return
            counts["records"] += 1
            states = result[msg.partition]
            key = msg.key.decode("utf-8", "replace")
            if msg.value is None:
                states.pop(key, None)
                return
            try:
                states[key] = self.decode(msg.value)
            except Exception as exc:  # untrusted bytes: any failure is an unreadable record
                counts["unreadable"] += 1
                states.pop(key, None)
                log.warning(
                    "state_record_unreadable",
                    topic=self.topic,
                    partition=msg.partition,
                    offset=msg.offset,
                    error=str(exc),
                )

        reader = self.reader({self.topic: on_record}, parts)
        await reader.start()
        try:
            await reader.read_to_end()
        finally:
            await reader.stop()
        self.unreadable += counts["unreadable"] + reader.stats["skipped"]
        log.info(
            "state_restored",
            topic=self.topic,
            partitions=parts,
            keys=sum(len(s) for s in result.values()),
            changelog_records=counts["records"],
            unreadable=counts["unreadable"] + reader.stats["skipped"],
            seconds=round(time.monotonic() - started, 3),
        )
        return result
