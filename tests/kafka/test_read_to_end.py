"""Reading to the true end, and restoring a changelog, against fake Kafka clients."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka import TopicPartition

from stream.kafka.changelog import StateChangelog
from stream.kafka.read_to_end import MARKER_KEY, EndNotReached, TopicReader, is_marker
from stream.settings import Settings
from tests.kafka.fakes import Rec

TOPIC = "t"


@dataclass
class Acked:
    offset: int


@dataclass
class FakeProducer:
    """Appends each marker to the fake log; its offset is the true end."""

    log: dict[int, list[Rec]]
    drop_markers: bool = False  # the marker never shows up (a broker that lost it)

    async def send(self, topic: str, key: bytes, value: None, partition: int, headers: Any) -> Any:
        offset = len(self.log[partition])
        if not self.drop_markers:
            self.log[partition].append(Rec(topic, partition, offset, key, value))
        fut: asyncio.Future[Acked] = asyncio.get_running_loop().create_future()
        fut.set_result(Acked(offset))
        return fut


@dataclass
class FakeConsumer:
    """Hands out the log a few records at a time, like fetches do."""

    log: dict[int, list[Rec]]
    per_fetch: int = 2
    positions: dict[int, int] = field(default_factory=dict)

    async def getmany(
        self, *tps: TopicPartition, timeout_ms: int = 0, max_records: int | None = None
    ) -> dict[TopicPartition, list[Rec]]:
        out: dict[TopicPartition, list[Rec]] = {}
        for tp in tps:
            pos = self.positions.get(tp.partition, 0)
            chunk = self.log[tp.partition][pos : pos + self.per_fetch]
            if chunk:
                out[tp] = chunk
                self.positions[tp.partition] = pos + len(chunk)
        if not out:
            await asyncio.sleep(0.01)
        return out

    async def position(self, tp: TopicPartition) -> int:
        return self.positions.get(tp.partition, 0)


def reader(log: dict[int, list[Rec]], on: Any, drop_markers: bool = False) -> TopicReader:
    r = TopicReader(Settings(), {TOPIC: on}, sorted(log))
    r.consumer = FakeConsumer(log)  # type: ignore[assignment]
    r._producer = FakeProducer(log, drop_markers)  # type: ignore[assignment]
    r.tps = [TopicPartition(TOPIC, p) for p in sorted(log)]
    return r


def test_reads_everything_before_the_marker_and_skips_markers() -> None:
    log = {0: [Rec(TOPIC, 0, i, b"k", b"v%d" % i) for i in range(5)], 1: []}
    seen: list[Rec] = []
    r = reader(log, seen.append)
    assert asyncio.run(r.read_to_end(timeout_s=5)) == 5
    assert [x.value for x in seen] == [b"v%d" % i for i in range(5)]
    assert r.caught_up.is_set()
    assert all(not is_marker(x) for x in seen)


def test_a_missing_marker_is_a_clear_timeout_not_a_silent_stop() -> None:
    log = {0: [Rec(TOPIC, 0, 0, b"k", b"v")]}
    r = reader(log, lambda rec: None, drop_markers=True)
    with pytest.raises(EndNotReached, match=r"t\[0\] not read to their end"):
        asyncio.run(r.read_to_end(timeout_s=0.3))


def test_a_record_the_handler_refuses_is_skipped_and_counted() -> None:
    log = {0: [Rec(TOPIC, 0, i, b"k", b"%d" % i) for i in range(4)]}
    got: list[bytes] = []

    def on(rec: Rec) -> None:
        if rec.value == b"2":
            raise ValueError("bad record")
        got.append(rec.value or b"")

    r = reader(log, on)
    asyncio.run(r.read_to_end(timeout_s=5))
    assert got == [b"0", b"1", b"3"] and r.stats["skipped"] == 1


class FakeChangelog(StateChangelog[int]):
    def __init__(self, log: dict[int, list[Rec]]) -> None:
        super().__init__(Settings(), None, TOPIC, self._decode)  # type: ignore[arg-type]
        self.log = log

    @staticmethod
    def _decode(raw: bytes) -> int:
        if raw.startswith(b"{"):
            raise KeyError("incident")  # not a ValueError: any decode failure counts
        return int(raw)

    def reader(self, handlers: dict[str, Any], partitions: list[int]) -> TopicReader:
        r = reader(self.log, handlers[TOPIC])

        async def started() -> None:
            return None

        r.start = started  # type: ignore[method-assign]
        r.stop = started  # type: ignore[method-assign]
        return r


def rec(p: int, o: int, key: bytes, value: bytes | None) -> Rec:
    return Rec(TOPIC, p, o, key, value)


def test_restore_keeps_the_latest_value_and_survives_a_corrupt_record() -> None:
    log = {
        0: [
            rec(0, 0, b"a", b"1"),
            rec(0, 1, b"b", b"2"),
            rec(0, 2, b"a", b"3"),
            rec(0, 3, b"b", None),  # tombstone: b expired
            rec(0, 4, b"c", b"{}"),  # corrupt: c starts fresh, the partition goes on
            rec(0, 5, b"d", b"4"),
            rec(0, 6, MARKER_KEY, None),  # an earlier restore's marker
        ]
    }
    changelog = FakeChangelog(log)
    states = asyncio.run(changelog.restore([0]))
    assert states == {0: {"a": 3, "d": 4}}
    assert changelog.unreadable == 1


def test_restore_of_no_partition_reads_nothing() -> None:
    assert asyncio.run(FakeChangelog({}).restore([])) == {}
