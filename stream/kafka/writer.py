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
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any, TypeVar

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.partitioner import murmur2
from mode import Service

from stream.errors import FatalKafkaError
from stream.kafka.config import aiokafka_kwargs
from stream.kafka.packs import pack
from stream.settings import Settings

Message = tuple[str, bytes | None, bytes | None, int | None]  # topic, key, value, partition
T = TypeVar("T")
log = structlog.get_logger(__name__)

MAX_BATCH_BYTES = 1024 * 1024

ATTEMPTS = 5
FIRST_BACKOFF_S = 0.5


async def with_retries(
    what: str, op: Callable[[], Awaitable[T]], stats: Counter[str] | None = None
) -> T:
    """``await op()``, retried on KafkaError with exponential backoff (:data:`ATTEMPTS`
    tries from :data:`FIRST_BACKOFF_S`), then :class:`~stream.errors.FatalKafkaError`."""
    attempts, delay = ATTEMPTS, FIRST_BACKOFF_S
    for attempt in range(1, attempts + 1):
        try:
            return await op()
        except KafkaError as exc:
            if stats is not None:
                stats[f"{what}_errors"] += 1
            if attempt == attempts:
                raise FatalKafkaError(f"{what} failed {attempts} times: {exc}") from exc
            log.warning("kafka_retry", what=what, attempt=attempt, error=str(exc), wait_s=delay)
            await asyncio.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass
class Publish:
    """What one batch asks to publish, in two acknowledged phases: ``results`` (with
    ``packed``: topic, key and value of records sent packed, :mod:`stream.kafka.packs`),
    then ``state``."""

    results: list[Message] = field(default_factory=list)
    state: list[Message] = field(default_factory=list)
    packed: list[tuple[str, bytes, bytes]] = field(default_factory=list)


async def publish_plan(writer: BatchWriter, plan: Publish, stats: Counter[str]) -> None:
    """The two acknowledged phases of a plan, each with :func:`with_retries`."""

    async def results() -> int:  # packing looks partitions up: retried with the write
        packs = await writer.packs(plan.packed) if plan.packed else []
        return await writer.write(plan.results + packs)

    if plan.results or plan.packed:
        await with_retries("publish_results", results, stats=stats)
    if plan.state:
        await with_retries("publish_state", partial(writer.write, plan.state), stats=stats)


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

    async def packs(self, items: Iterable[tuple[str, bytes, bytes]]) -> list[Message]:
        """``items`` (topic, key, value) as packs (:func:`stream.kafka.packs.pack`), each to
        the partition Kafka's default partitioner picks for its items' keys."""
        grouped: dict[tuple[str, int], list[bytes]] = {}
        for topic, key, value in items:
            partition = _keyed_partition(key, await self.partitions(topic))
            grouped.setdefault((topic, partition), []).append(value)
        return [
            (topic, None, packed, partition)
            for (topic, partition), values in grouped.items()
            for packed in pack(values)
        ]

    async def write(self, messages: Iterable[Message], timestamp_ms: int | None = None) -> int:
        """Send every message; return how many, once all are acknowledged.

        Raises the producer's error (``KafkaError``) if a batch is refused, a message
        larger than the broker takes included (aiokafka puts a message too big for a
        record batch alone into a batch of its own).
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
                # full (aiokafka closed it, so it is sent without lingering)
                pending.append(await producer.send_batch(batch, topic, partition=partition))
                batch = batches[(topic, partition)] = producer.create_batch()
                batch.append(key=key, value=value, timestamp=timestamp_ms)  # a first fits
            sent += 1
            if len(pending) > 64:  # bound what is in flight
                await asyncio.gather(*pending)
                pending.clear()
        for (topic, partition), batch in batches.items():
            if batch.record_count():
                # closed: sent at once rather than after the producer's linger (a record
                # batch built here is complete; aiokafka lingers only on open ones)
                batch.close()
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


class WriterService(Service):
    """The worker's one producer, shared by its agents and its global view."""

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        self.settings = settings
        self._writer: BatchWriter | None = None
        super().__init__(**kwargs)

    @property
    def writer(self) -> BatchWriter:
        if self._writer is None:
            raise RuntimeError("the writer is not started yet")
        return self._writer

    async def on_start(self) -> None:
        producer = new_producer(self.settings)
        await producer.start()
        self._writer = BatchWriter(producer)

    async def on_stop(self) -> None:
        if self._writer is not None:
            await self._writer.producer.stop()
