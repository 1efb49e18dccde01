"""Whether a consumer group has worked a topic up to now (stream/kafka/consumed.py), on
the real broker: its end offsets fall short of the true end (docs/architecture.md), so
the wait is for the group's commits to pass markers written now."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from kafka.admin import NewTopic

from stream.harness.embedded_broker import EmbeddedBroker
from stream.kafka.config import aiokafka_kwargs
from stream.kafka.consumed import NoEnd, NotConsumed, Stage, wait_stages
from stream.kafka.topics import admin_client
from stream.kafka.writer import write_all
from stream.settings import Settings

pytestmark = pytest.mark.broker

TOPIC = "consumed-test"


async def _commit(s: Settings, group: str, offsets: dict[int, int]) -> None:
    consumer = AIOKafkaConsumer(group_id=group, enable_auto_commit=False, **aiokafka_kwargs(s))
    await consumer.start()
    try:
        tps = [TopicPartition(TOPIC, p) for p in offsets]
        consumer.assign(tps)
        await consumer.commit({tp: OffsetAndMetadata(offsets[tp.partition], "") for tp in tps})
    finally:
        await consumer.stop()


async def wait_one(s: Settings, group: str, topic: str, timeout_s: float, stalled_s: float) -> int:
    """One stage: the records ``group`` had left of ``topic`` when the wait began."""
    left = await wait_stages(s, [Stage("it", group, topic)], timeout_s, stalled_s)
    return left["it"]


@pytest.fixture(scope="module")
def settings(broker: EmbeddedBroker) -> Settings:
    """The broker, with the topic of these tests: 2 partitions."""
    s = Settings(broker=broker.url, app_id="consumed")
    admin = admin_client(s)
    try:
        admin.create_topics([NewTopic(TOPIC, num_partitions=2, replication_factor=1)])
    finally:
        admin.close()
    return s


def test_a_group_is_done_only_once_it_committed_past_the_markers(settings: Settings) -> None:
    s = settings
    # 5 records on partition 0 and 3 on partition 1, in one batch each (the batches whose
    # end offsets the embedded broker reports short)
    write_all(s, [(TOPIC, b"k", b"v", 0)] * 5 + [(TOPIC, b"k", b"v", 1)] * 3)
    asyncio.run(_commit(s, "g", {0: 5, 1: 1}))  # all of partition 0, one of partition 1
    with pytest.raises(NotConsumed) as err:
        asyncio.run(wait_one(s, "g", TOPIC, timeout_s=2.0, stalled_s=60))
    # two records of partition 1 are left (before the markers, which are not counted)
    assert "consumer group 'g' has 2 records of 'consumed-test' left" in str(err.value)
    assert "not done after 2 s" in str(err.value)

    # the markers of that wait are at offsets 5 and 3; committed past them, the next wait
    # writes new markers (6 and 4), and the group is done once it commits past those
    asyncio.run(_commit(s, "g", {0: 6, 1: 4}))

    async def commit_soon() -> int:
        task = asyncio.create_task(wait_one(s, "g", TOPIC, timeout_s=30, stalled_s=30))
        await asyncio.sleep(1.0)
        assert not task.done()  # the new markers are not consumed yet
        await _commit(s, "g", {0: 7, 1: 5})
        return await task

    assert asyncio.run(commit_soon()) == 0  # nothing but its markers was left


def test_a_group_that_does_not_move_is_reported_as_stalled(settings: Settings) -> None:
    with pytest.raises(
        NotConsumed, match=r"group 'nobody' has \d+ records .*\(no progress for 1 s\)"
    ):
        asyncio.run(wait_one(settings, "nobody", TOPIC, timeout_s=30, stalled_s=1))


def test_a_missing_topic_is_not_created_by_the_wait(settings: Settings) -> None:
    """Asking a producer for a missing topic's partitions creates it with the broker's
    default count, no longer co-partitioned with the others: the wait looks first."""
    with pytest.raises(NoEnd, match="'never-made' does not exist"):
        asyncio.run(wait_one(settings, "g", "never-made", timeout_s=5, stalled_s=5))
    admin = admin_client(settings)
    try:
        assert "never-made" not in admin.list_topics()
    finally:
        admin.close()
