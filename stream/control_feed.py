"""Following the control topic: every worker reads all of it (no consumer group)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import ConsumerStoppedError, KafkaError

from stream.kafka_config import aiokafka_kwargs
from stream.settings import Settings

log = structlog.get_logger(__name__)


class ControlFeed:
    """Reads ``topic_control`` from the beginning, then follows it.

    :meth:`catch_up` returns once everything published so far has been read (control
    messages are single-record batches, so the reported end offset is exact even on
    the embedded broker); :meth:`follow` hands every later message to ``on_message``.
    """

    def __init__(self, settings: Settings, on_message: Callable[[bytes | None], None]) -> None:
        self.settings = settings
        self.on_message = on_message
        self.tp = TopicPartition(settings.topic_control, 0)
        self.consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        self.consumer = AIOKafkaConsumer(
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **aiokafka_kwargs(self.settings),
        )
        await self.consumer.start()
        self.consumer.assign([self.tp])
        await self.consumer.seek_to_beginning(self.tp)

    async def stop(self) -> None:
        if self.consumer is not None:
            with contextlib.suppress(KafkaError):
                await self.consumer.stop()

    async def catch_up(self, timeout_s: float = 30.0) -> int:
        consumer = self.consumer
        assert consumer is not None
        end = (await consumer.end_offsets([self.tp]))[self.tp]
        read = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while await consumer.position(self.tp) < end and loop.time() < deadline:
            for records in (await consumer.getmany(self.tp, timeout_ms=500)).values():
                for rec in records:
                    self.on_message(rec.value)
                    read += 1
        return read

    async def follow(self) -> None:
        consumer = self.consumer
        assert consumer is not None
        while True:
            try:
                batch = await consumer.getmany(self.tp, timeout_ms=1000)
            except ConsumerStoppedError:
                return  # the worker is stopping
            except KafkaError as exc:
                log.warning("control_fetch_failed", error=str(exc))
                await asyncio.sleep(1.0)
                continue
            for records in batch.values():
                for rec in records:
                    self.on_message(rec.value)
