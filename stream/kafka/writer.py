"""Publishing many messages fast (simulation, replay, benchmarks).

Messages are grouped by partition with Kafka's default partitioner (murmur2 of the
key, as every Kafka client computes it) and sent as whole record batches through
aiokafka's ``send_batch`` — an order of magnitude faster than one ``send`` per message.
Per-partition order, hence per-actor order, is kept.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

from stream.kafka.config import aiokafka_kwargs
from stream.settings import Settings


def partition_for(key: bytes | None, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for ``key``."""
    if key is None:
        return random.randrange(partitions)
    return _keyed_partition(key, partitions)


@lru_cache(maxsize=1 << 18)
def _keyed_partition(key: bytes, partitions: int) -> int:
    return int((murmur2(key) & 0x7FFFFFFF) % partitions)


class BatchPublisher:
    """``async with BatchPublisher(settings) as pub: await pub.send_many(topic, msgs)``."""

    def __init__(self, settings: Settings, max_batch_bytes: int = 512 * 1024) -> None:
        self.settings = settings
        self.max_batch_bytes = max_batch_bytes
        self.producer = AIOKafkaProducer(
            acks="all",
            linger_ms=5,
            max_batch_size=max_batch_bytes,
            max_request_size=4 * max_batch_bytes,
            **aiokafka_kwargs(settings),
        )

    async def __aenter__(self) -> BatchPublisher:
        await self.producer.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.producer.stop()

    async def partitions(self, topic: str) -> int:
        parts = await self.producer.partitions_for(topic)
        return len(parts)

    async def send_many(
        self,
        topic: str,
        messages: Iterable[tuple[bytes | None, bytes]],
        timestamp_ms: int | None = None,
    ) -> int:
        """Send every ``(key, value)``; returns how many were acknowledged."""
        n_parts = await self.partitions(topic)
        batches: dict[int, Any] = {}
        pending: list[asyncio.Future[Any]] = []
        counts: dict[int, int] = {}
        sent = 0
        for key, value in messages:
            p = partition_for(key, n_parts)
            batch = batches.get(p)
            if batch is None:
                batch = batches[p] = self.producer.create_batch()
                counts[p] = 0
            if batch.append(key=key, value=value, timestamp=timestamp_ms) is None:
                pending.append(await self.producer.send_batch(batch, topic, partition=p))
                sent += counts[p]
                batch = batches[p] = self.producer.create_batch()
                counts[p] = 0
                if batch.append(key=key, value=value, timestamp=timestamp_ms) is None:
                    raise ValueError(f"message of {len(value)} bytes exceeds the batch size")
            counts[p] += 1
            if len(pending) > 64:
                await asyncio.gather(*pending)
                pending.clear()
        for p, batch in batches.items():
            if counts[p]:
                pending.append(await self.producer.send_batch(batch, topic, partition=p))
                sent += counts[p]
        await asyncio.gather(*pending)
        return sent
