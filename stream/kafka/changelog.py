"""Per-actor state in a compacted changelog topic, co-partitioned with ``requests``.

Writes: once per batch per changed actor (key = actor, value = encoded state), and a
tombstone when an idle actor expires. Restore: when a partition is assigned, read its
changelog partition from the beginning up to a *marker* record written just before
and whose offset the broker acknowledged. This does not trust ``ListOffsets``
(end offsets), which the embedded broker under-reports after multi-record batches
(DESIGN.md): a restore that stopped at the reported end would lose the newest state.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from stream.kafka.config import aiokafka_kwargs
from stream.settings import Settings

log = structlog.get_logger(__name__)

MARKER_KEY = b"\x00scrapeguard:restore-marker"

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

    async def restore(self, partitions: Iterable[int]) -> dict[int, dict[str, T]]:
        """Latest value of every key in ``partitions``."""
        parts = sorted(set(partitions))
        result: dict[int, dict[str, T]] = {p: {} for p in parts}
        if not parts:
            return result
        started = time.monotonic()
        # 1. a marker per partition: its acknowledged offset is the true end of the log
        futures = [
            await self.producer.send(self.topic, key=MARKER_KEY, value=None, partition=p)
            for p in parts
        ]
        stop_at = {p: (await fut).offset for p, fut in zip(parts, futures, strict=True)}
        # 2. read each partition up to its marker
        consumer = AIOKafkaConsumer(
            enable_auto_commit=False,
            group_id=None,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=8 * 1024 * 1024,
            **aiokafka_kwargs(self.settings),
        )
        await consumer.start()
        records = bad = 0
        try:
            tps = [TopicPartition(self.topic, p) for p in parts]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            pending = set(parts)
            while pending:
                batch = await consumer.getmany(
                    *[TopicPartition(self.topic, p) for p in pending],
                    timeout_ms=1000,
                    max_records=50000,
                )
                for tp, msgs in batch.items():
                    states = result[tp.partition]
                    for msg in msgs:
                        if msg.offset >= stop_at[tp.partition]:
                            pending.discard(tp.partition)
                            break
                        if msg.key is None or msg.key == MARKER_KEY:
                            continue
                        records += 1
                        actor = msg.key.decode("utf-8", "replace")
                        if msg.value is None:
                            states.pop(actor, None)
                            continue
                        try:
                            states[actor] = self.decode(msg.value)
                        except ValueError as exc:
                            bad += 1
                            states.pop(actor, None)
                            log.warning(
                                "state_record_unreadable",
                                actor=actor,
                                partition=tp.partition,
                                offset=msg.offset,
                                error=str(exc),
                            )
                for p in list(pending):
                    # the marker itself may have been the first record fetched past the end
                    if await consumer.position(TopicPartition(self.topic, p)) > stop_at[p]:
                        pending.discard(p)
        finally:
            await consumer.stop()
        log.info(
            "state_restored",
            topic=self.topic,
            partitions=parts,
            actors=sum(len(s) for s in result.values()),
            changelog_records=records,
            unreadable=bad,
            seconds=round(time.monotonic() - started, 3),
        )
        return result
