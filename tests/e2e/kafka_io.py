"""Reading topics in tests (kafka-python, no consumer group)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson
from kafka import KafkaConsumer, TopicPartition
from kafka.admin import NewTopic

from stream.kafka.topics import admin_client
from stream.settings import Settings


def create_topic(settings: Settings, name: str, partitions: int) -> None:
    """A topic of ``partitions`` partitions for one test."""
    admin = admin_client(settings)
    try:
        admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    finally:
        admin.close()


class TopicReader:
    """Reads every partition of a topic from the beginning, incrementally."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            group_id=None,
            auto_offset_reset="earliest",
        )
        parts = None
        deadline = time.monotonic() + 30
        while not parts and time.monotonic() < deadline:
            parts = self.consumer.partitions_for_topic(topic)
            if not parts:
                time.sleep(0.2)
        assert parts, f"topic {topic} does not exist"
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        self.consumer.assign(tps)
        self.consumer.seek_to_beginning(*tps)
        self.records: list[dict[str, Any]] = []
        self.raw: list[Any] = []

    def poll(self) -> None:
        for recs in self.consumer.poll(timeout_ms=200).values():
            for r in recs:
                if r.value is None:
                    continue  # tombstones and restore markers
                self.raw.append(r)
                self.records.append(orjson.loads(r.value))

    def wait_for(
        self,
        done: Callable[[list[dict[str, Any]]], bool],
        timeout_s: float = 90.0,
        settle_s: float = 3.0,
    ) -> list[dict[str, Any]]:
        """Poll until ``done(records)``, then ``settle_s`` more to catch any extras."""
        deadline = time.monotonic() + timeout_s
        while not done(self.records):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out; have {len(self.records)} records: {self.records[-5:]}"
                )
            self.poll()
        settle = time.monotonic() + settle_s
        while time.monotonic() < settle:
            self.poll()
        return self.records

    def close(self) -> None:
        self.consumer.close()
