"""The one way scrapeguard writes to Kafka: whole record batches per topic and partition.

Messages are grouped by partition — the one given, or the one Kafka's default
partitioner picks for the key (murmur2, as every Kafka client computes it) — and sent
through aiokafka's ``send_batch``: one ``send`` per message costs more than the
detector's work on the event. Per-partition order, hence per-actor order, is kept.
Every write is acknowledged (``acks=all``) before :meth:`BatchWriter.write` returns.

Used by the agents (results, then state), the demo, the harness and the CLI.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

from stream.kafka.config import aiokafka_kwargs
from stream.settings import Settings

Message = tuple[str, bytes | None, bytes | None, int | None]  # topic, key, value, partition

MAX_BATCH_BYTES = 1024 * 1024


def partition_for(key: bytes | None, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for ``key``."""
    if key is None:
        return random.randrange(partitions)
    return _keyed_partition(key, partitions)


@lru_cache(maxsize=1 << 18)
def _keyed_partition(key: bytes, partitions: int) -> int:
    return int((murmur2(key) & 0x7FFFFFFF) % partitions)


def new_producer(settings: Settings, **overrides: Any) -> AIOKafkaProducer:
    """A producer configured for batch writes (acknowledged by every in-sync replica)."""
    kwargs: dict[str, Any] = {
        "acks": "all",
        "linger_ms": 2,
        "max_batch_size": MAX_BATCH_BYTES,
        "max_request_size": 4 * MAX_BATCH_BYTES,
        **aiokafka_kwargs(settings),
    }
    kwargs.update(overrides)
    return AIOKafkaProducer(**kwargs)


class BatchWriter:
    """Writes :data:`Message` s through ``producer`` in record batches, and waits for acks."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer
        self._partition_counts: dict[str, int] = {}

    async def partitions(self, topic: str) -> int:
        n = self._partition_counts.get(topic)
        if n is None:
            n = self._partition_counts[topic] = len(await self.producer.partitions_for(topic))
        return n

    async def write(self, messages: Iterable[Message], timestamp_ms: int | None = None) -> int:
        """Send every message; return how many, once all are acknowledged.

        Raises the producer's error (``KafkaError``) if a batch is refused, and
        ValueError for a message larger than a record batch.
        """
        producer = self.producer
        batches: dict[tuple[str, int], Any] = {}
        pending: list[asyncio.Future[Any]] = []
        sent = 0
        for topic, key, value, partition in messages:
            if partition is None:
                partition = partition_for(key, await self.partitions(topic))
            batch = batches.get((topic, partition))
            if batch is None:
                batch = batches[(topic, partition)] = producer.create_batch()
            if batch.append(key=key, value=value, timestamp=timestamp_ms) is None:
                pending.append(await producer.send_batch(batch, topic, partition=partition))
                batch = batches[(topic, partition)] = producer.create_batch()
                if batch.append(key=key, value=value, timestamp=timestamp_ms) is None:
                    raise ValueError(
                        f"a {len(value or b'')}-byte message to {topic} does not fit in a "
                        "record batch"
                    )
            sent += 1
            if len(pending) > 64:  # bound what is in flight
                await asyncio.gather(*pending)
                pending.clear()
        for (topic, partition), batch in batches.items():
            if batch.record_count():
                pending.append(await producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*pending)
        return sent


@asynccontextmanager
async def open_writer(settings: Settings, **overrides: Any) -> AsyncIterator[BatchWriter]:
    """A writer with a producer of its own (harness, CLI): ``async with open_writer(s) as w``."""
    producer = new_producer(settings, **overrides)
    await producer.start()
    try:
        yield BatchWriter(producer)
    finally:
        await producer.stop()


def write_all(settings: Settings, messages: Iterable[Message]) -> int:
    """Synchronous :meth:`BatchWriter.write` with a producer of its own (CLI, harness)."""

    async def go() -> int:
        async with open_writer(settings) as writer:
            return await writer.write(messages)

    return asyncio.run(go())
