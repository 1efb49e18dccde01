"""Reading a whole topic and following it, in every worker (no consumer group).

Used where each worker needs everything: the control log, the decisions (so any
worker can answer for any actor), the membership of workers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import ConsumerStoppedError, KafkaError

from stream.kafka.config import aiokafka_kwargs
from stream.settings import Settings

log = structlog.get_logger(__name__)


class TopicFollower:
    """All partitions of ``topic`` from the beginning; ``on_record`` sees every record.

    :meth:`catch_up` returns once everything published before it was called has been
    read, as far as end offsets tell (exact for single-record batches; the embedded
    broker may under-report multi-record batches, so a little may still arrive after).
    """

    def __init__(self, settings: Settings, topic: str, on_record: Callable[[Any], None]) -> None:
        self.settings = settings
        self.topic = topic
        self.on_record = on_record
        self.consumer: AIOKafkaConsumer | None = None
        self.caught_up = asyncio.Event()
        self.tps: list[TopicPartition] = []

    async def start(self) -> None:
        self.consumer = AIOKafkaConsumer(
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **aiokafka_kwargs(self.settings),
        )
        await self.consumer.start()
        parts: set[int] | None = None
        for _ in range(50):
            parts = self.consumer.partitions_for_topic(self.topic)
            if parts:
                break
            await self.consumer.topics()  # refresh metadata
            await asyncio.sleep(0.1)
        self.tps = [TopicPartition(self.topic, p) for p in sorted(parts or {0})]
        self.consumer.assign(self.tps)
        await self.consumer.seek_to_beginning(*self.tps)

    async def stop(self) -> None:
        if self.consumer is not None:
            with contextlib.suppress(KafkaError):
                await self.consumer.stop()

    async def catch_up(self, timeout_s: float = 30.0) -> int:
        consumer = self.consumer
        assert consumer is not None
        ends = await consumer.end_offsets(self.tps)
        read = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            positions = [await consumer.position(tp) for tp in self.tps]
            if all(pos >= ends[tp] for pos, tp in zip(positions, self.tps, strict=True)):
                break
            read += self._deliver(await consumer.getmany(timeout_ms=500))
        self.caught_up.set()
        return read

    def _deliver(self, batch: dict[TopicPartition, list[Any]]) -> int:
        n = 0
        for records in batch.values():
            for rec in records:
                try:
                    self.on_record(rec)
                except Exception:  # one bad record must not stop the follower
                    log.exception("follower_record_failed", topic=self.topic, offset=rec.offset)
                n += 1
        return n

    async def follow(self) -> None:
        consumer = self.consumer
        assert consumer is not None
        while True:
            try:
                batch = await consumer.getmany(timeout_ms=1000)
            except ConsumerStoppedError:
                return  # the worker is stopping
            except KafkaError as exc:
                log.warning("follow_failed", topic=self.topic, error=str(exc))
                await asyncio.sleep(1.0)
                continue
            self._deliver(batch)
