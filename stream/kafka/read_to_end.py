"""Reading a whole topic back (evaluation, comparisons, the ``decisions`` command).

End offsets are not trusted (the embedded broker under-reports them after
multi-record batches): a read ends once every partition has been quiet for
``idle_s`` seconds after reaching at least the reported end.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from stream.kafka.config import kafka_python_kwargs
from stream.settings import Settings


def read_topic(
    settings: Settings,
    topic: str,
    idle_s: float = 2.0,
    follow: bool = False,
    max_wait_s: float = 600.0,
) -> Iterator[Any]:
    """Every record of ``topic`` (kafka-python ``ConsumerRecord``), oldest first per partition."""
    consumer = KafkaConsumer(
        enable_auto_commit=False,
        group_id=None,
        auto_offset_reset="earliest",
        max_poll_records=5000,
        fetch_max_bytes=32 * 1024 * 1024,
        **kafka_python_kwargs(settings),
    )
    try:
        parts = consumer.partitions_for_topic(topic)
        if not parts:
            raise LookupError(f"topic {topic!r} does not exist")
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        quiet_since = time.monotonic()
        started = time.monotonic()
        while True:
            batch = consumer.poll(timeout_ms=200)
            for records in batch.values():
                for rec in records:
                    quiet_since = time.monotonic()
                    yield rec
            if follow:
                continue
            reached = all(consumer.position(tp) >= ends[tp] for tp in tps)
            if reached and time.monotonic() - quiet_since >= idle_s:
                return
            if time.monotonic() - started > max_wait_s:
                raise TimeoutError(f"reading {topic!r} took longer than {max_wait_s}s")
    finally:
        consumer.close()


def collect(
    settings: Settings, topic: str, decode: Callable[[bytes], Any], idle_s: float = 2.0
) -> list[Any]:
    return [decode(r.value) for r in read_topic(settings, topic, idle_s) if r.value is not None]
