"""The batched consumer's error policy, against a fake consumer and a fake writer."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError, KafkaConnectionError, KafkaTimeoutError

from stream.core.older_era import era_floor
from stream.errors import FatalKafkaError
from stream.kafka import writer as kafka_writer
from stream.kafka.batch_consumer import BatchConsumer
from stream.kafka.read_to_end import MARKER_KEY
from stream.kafka.writer import Publish
from stream.settings import Settings
from tests.kafka.fakes import FakeConsumer, FakeWriter, FakeWriterService, Rec

TOPIC = "requests"


class Echo(BatchConsumer):
    """Publishes one result per record and one state record per batch."""

    name = "echo"

    def __init__(self, owned: set[int], writer: FakeWriter) -> None:
        super().__init__(Settings(), [TOPIC], "g", FakeWriterService(writer))  # type: ignore[arg-type]
        self.owned = owned
        self.handled: list[tuple[int, int]] = []
        self.committed_plans: list[Publish] = []

    def owns(self, partition: int) -> bool:
        return partition in self.owned

    def handle(self, batch: dict[TopicPartition, list[Any]]) -> Publish:
        plan = Publish()
        for tp, recs in batch.items():
            for r in recs:
                self.handled.append((tp.partition, r.offset))
                plan.results.append(("out", r.key, r.value, None))
            plan.state.append(("state", b"k", b"v", tp.partition))
        return plan

    def after_commit(self, plan: Publish) -> None:
        self.committed_plans.append(plan)


def tp(p: int) -> TopicPartition:
    return TopicPartition(TOPIC, p)


def recs(p: int, offsets: range, key: bytes = b"a") -> list[Rec]:
    return [Rec(TOPIC, p, o, key, b"x%d" % o) for o in offsets]


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kafka_writer, "FIRST_BACKOFF_S", 0.001)


def run(agent: Echo, batch: dict[TopicPartition, list[Rec]], consumer: FakeConsumer) -> None:
    agent.consumer = consumer
    asyncio.run(agent.process(batch))


def test_results_then_state_then_commit() -> None:
    w = FakeWriter()
    agent, consumer = Echo({0}, w), FakeConsumer()
    run(agent, {tp(0): recs(0, range(5, 8))}, consumer)
    assert [m[0] for m in w.written[0]] == ["out"] * 3 and w.written[1][0][0] == "state"
    assert consumer.committed == [{tp(0): 8}]
    assert len(agent.committed_plans) == 1


def test_records_of_a_revoked_partition_are_handed_back_not_processed() -> None:
    """Revocation mid-batch: partition 1 was revoked after the fetch."""
    agent, consumer = Echo({0}, FakeWriter()), FakeConsumer()
    run(agent, {tp(0): recs(0, range(0, 2)), tp(1): recs(1, range(40, 43))}, consumer)
    assert agent.handled == [(0, 0), (0, 1)]
    assert consumer.seeks == [(tp(1), 40)]  # the new owner reads them from there
    assert consumer.committed == [{tp(0): 2}]  # nothing committed for partition 1
    assert agent.stats["handed_back"] == 3


def test_a_commit_refused_because_partitions_moved_is_not_fatal() -> None:
    agent = Echo({0}, FakeWriter())
    consumer = FakeConsumer(commit_errors=[CommitFailedError("rebalanced")])
    run(agent, {tp(0): recs(0, range(3))}, consumer)
    assert agent.stats["commits_skipped_rebalance"] == 1 and consumer.committed == []


def test_a_commit_error_is_retried_then_succeeds() -> None:
    agent = Echo({0}, FakeWriter())
    consumer = FakeConsumer(commit_errors=[KafkaConnectionError(), KafkaTimeoutError()])
    run(agent, {tp(0): recs(0, range(3))}, consumer)
    assert consumer.committed == [{tp(0): 3}] and agent.stats["commit_errors"] == 2


def test_a_commit_that_keeps_failing_stops_the_worker() -> None:
    agent = Echo({0}, FakeWriter())
    errors: list[BaseException] = [KafkaConnectionError() for _ in range(10)]
    with pytest.raises(FatalKafkaError, match="commit failed 5 times"):
        run(agent, {tp(0): recs(0, range(3))}, FakeConsumer(commit_errors=errors))


def test_a_publish_that_keeps_failing_stops_the_worker_before_any_commit() -> None:
    w = FakeWriter(fail=[KafkaTimeoutError() for _ in range(10)])
    agent, consumer = Echo({0}, w), FakeConsumer()
    with pytest.raises(FatalKafkaError, match="publish_results failed 5 times"):
        run(agent, {tp(0): recs(0, range(3))}, consumer)
    assert consumer.committed == []  # the batch is delivered again after the restart
    assert agent.stats["publish_results_errors"] == 5


def test_a_publish_error_is_retried() -> None:
    w = FakeWriter(fail=[KafkaTimeoutError()])
    agent, consumer = Echo({0}, w), FakeConsumer()
    run(agent, {tp(0): recs(0, range(2))}, consumer)
    assert consumer.committed == [{tp(0): 2}] and len(w.written) == 2


def test_end_markers_are_committed_past_and_never_handled() -> None:
    agent, consumer = Echo({0}, FakeWriter()), FakeConsumer()
    batch = [*recs(0, range(2)), Rec(TOPIC, 0, 2, MARKER_KEY, None)]
    run(agent, {tp(0): batch}, consumer)
    assert agent.handled == [(0, 0), (0, 1)] and consumer.committed == [{tp(0): 3}]
    # a record that only looks like a marker (it has a value) is handled
    agent2, consumer2 = Echo({0}, FakeWriter()), FakeConsumer()
    run(agent2, {tp(0): [Rec(TOPIC, 0, 0, MARKER_KEY, b"{}")]}, consumer2)
    assert agent2.handled == [(0, 0)]


class Aligned(Echo):
    """Partitions at given event times, each with a backlog."""

    align_topic = TOPIC
    align_era_gap_s = 86400.0

    def __init__(self, at: dict[int, float]) -> None:
        super().__init__(set(at), FakeWriter())
        self.at: dict[int, float | None] = dict(at)

    def watermark(self, partition: int) -> float | None:
        return self.at[partition]


class PausingConsumer(FakeConsumer):
    def __init__(self, partitions: set[int]) -> None:
        super().__init__(assigned={tp(p) for p in partitions})
        self.held: set[TopicPartition] = set()

    def highwater(self, tp: TopicPartition) -> int | None:
        return 100  # every partition has a backlog (positions start at -1)

    def paused(self) -> set[TopicPartition]:
        return set(self.held)

    def pause(self, *tps: TopicPartition) -> None:
        self.held.update(tps)

    def resume(self, *tps: TopicPartition) -> None:
        self.held.difference_update(tps)


def test_alignment_pauses_partitions_ahead_but_not_those_of_another_era() -> None:
    """An old log replayed beside today's traffic: partition 2 last worked an event of
    today. Paused for being 'ahead', it could never work its replayed backlog, and its
    accounts would reach the correlator hours after the others' (measured: an account
    farm caught after 93.8 min instead of 24.6). A day or more ahead, it is not paused;
    a partition minutes ahead of the slowest is, as before."""
    old, today = 1.55e9, 1.8e9
    agent = Aligned({0: old, 1: old + 900, 2: today})
    consumer = PausingConsumer({0, 1, 2})
    agent.consumer = consumer
    agent._align()
    assert consumer.held == {tp(1)}  # 15 min ahead: waits; today's era: goes on
    agent.at[1] = old + 60
    agent._align()
    assert consumer.held == set()  # back within the slack: resumed


def test_a_partition_not_started_holds_every_other_back_whatever_its_era() -> None:
    agent = Aligned({0: 1.55e9, 1: 1.55e9 + 3600, 2: 1.8e9})
    agent.at[3] = None  # a backlog, nothing worked yet
    consumer = PausingConsumer({0, 1, 2, 3})
    agent.consumer = consumer
    agent._align()
    assert consumer.held == {tp(0), tp(1), tp(2)}


class EraAligned(Aligned):
    def align_floor(self, heads: list[float]) -> float:
        return era_floor(heads)


def test_one_partition_far_behind_does_not_turn_alignment_off() -> None:
    """An event with an odd timestamp (years back) last worked on partition 0: with the
    plain minimum as the floor every other partition would count as 'another era' and
    none would be paused; the floor of the era most partitions are in keeps them aligned."""
    now = 1.8e9
    at = {0: now - 400 * 86400, 1: now, 2: now + 900, 3: now + 10}
    plain = Aligned(at)
    plain.consumer = PausingConsumer(set(at))
    plain._align()
    assert plain.consumer.held == set()
    era = EraAligned(at)
    era.consumer = PausingConsumer(set(at))
    era._align()
    assert era.consumer.held == {tp(2)}

