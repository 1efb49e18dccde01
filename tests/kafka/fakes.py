"""Stand-ins for a Kafka consumer, a writer and records: the Kafka layer's edge cases
without a broker (the end-to-end tests run the real thing)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition

from stream.kafka.writer import Message


@dataclass
class Rec:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int | None = None


@dataclass
class FakeConsumer:
    """What the batched consumer calls on an aiokafka consumer."""

    commit_errors: list[BaseException] = field(default_factory=list)
    committed: list[dict[TopicPartition, int]] = field(default_factory=list)
    seeks: list[tuple[TopicPartition, int]] = field(default_factory=list)
    assigned: set[TopicPartition] = field(default_factory=set)

    async def commit(self, offsets: dict[TopicPartition, Any]) -> None:
        if self.commit_errors:
            raise self.commit_errors.pop(0)
        self.committed.append({tp: meta.offset for tp, meta in offsets.items()})

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))

    def assignment(self) -> set[TopicPartition]:
        return self.assigned

    def highwater(self, tp: TopicPartition) -> int | None:
        return None

    def paused(self) -> set[TopicPartition]:
        return set()


@dataclass
class FakeWriter:
    """A writer that records what it was asked to write, or fails ``fail`` times first."""

    fail: list[BaseException] = field(default_factory=list)
    written: list[list[Message]] = field(default_factory=list)
    producer: Any = None

    async def write(self, messages: Iterable[Message], timestamp_ms: int | None = None) -> int:
        if self.fail:
            raise self.fail.pop(0)
        batch = list(messages)
        self.written.append(batch)
        return len(batch)


@dataclass
class FakeWriterService:
    writer: FakeWriter = field(default_factory=FakeWriter)

    async def maybe_start(self) -> bool:
        return False
