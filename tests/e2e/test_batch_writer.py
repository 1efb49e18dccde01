"""The batch writer sends each record batch at once: it does not wait for the producer's
linger (stream/kafka/writer.py closes every batch it hands to aiokafka)."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from stream.harness.embedded_broker import EmbeddedBroker
from stream.kafka.writer import BatchWriter, new_producer
from stream.settings import Settings
from tests.e2e.kafka_io import create_topic

pytestmark = pytest.mark.broker

LINGER_MS = 5000


def test_a_write_does_not_wait_for_the_producers_linger(broker: EmbeddedBroker) -> None:
    settings = Settings(broker=broker.url)
    topic = f"writer-linger-{uuid.uuid4().hex[:8]}"
    create_topic(settings, topic, 2)

    async def go() -> tuple[int, float]:
        producer = new_producer(settings, linger_ms=LINGER_MS)
        await producer.start()
        try:
            writer = BatchWriter(producer)
            await writer.write([(topic, b"warm-up", b"v", 0)])  # metadata and connection
            started = time.monotonic()
            n = await writer.write([(topic, f"k{i}".encode(), b"v", i % 2) for i in range(10)])
            return n, time.monotonic() - started
        finally:
            await producer.stop()

    n, elapsed_s = asyncio.run(go())
    # an open batch would wait LINGER_MS before it is sent, so before it is acknowledged
    assert n == 10 and elapsed_s < LINGER_MS / 1000 / 2
