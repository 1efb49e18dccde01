"""Packed records (stream/kafka/packs.py) on a real broker and through the running worker:
one record per partition, in the partition each item would have gone to alone; a bad item,
a record that is not JSON and a record of one item as earlier versions wrote it are read
by the agents as they should be."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections import Counter

import orjson
import pytest
from kafka import KafkaProducer

from stream.harness.embedded_broker import EmbeddedBroker
from stream.harness.worker_process import WorkerProcess
from stream.kafka.packs import unpack
from stream.kafka.read_to_end import read_all
from stream.kafka.writer import BatchWriter, Publish, new_producer, publish_plan
from stream.settings import Settings
from tests.e2e import http
from tests.e2e.conftest import API_TOKEN
from tests.e2e.kafka_io import create_topic

pytestmark = pytest.mark.broker

PARTITIONS = 4


def test_packed_items_go_to_their_keys_partitions_one_record_each(broker: EmbeddedBroker) -> None:
    settings = Settings(broker=broker.url)
    topic = f"packs-{uuid.uuid4().hex[:8]}"
    create_topic(settings, topic, PARTITIONS)
    items = [(topic, f"10.0.{i}.0/24".encode(), orjson.dumps({"n": i})) for i in range(40)]

    async def go() -> None:
        producer = new_producer(settings)
        await producer.start()
        try:
            writer = BatchWriter(producer)
            await publish_plan(writer, Publish(packed=items), Counter())
        finally:
            await producer.stop()

    asyncio.run(go())
    # the same items sent one by one, keyed, by another client (kafka-python's partitioner)
    alone = f"{topic}-alone"
    create_topic(settings, alone, PARTITIONS)
    producer = KafkaProducer(bootstrap_servers=broker.address)
    for _, key, value in items:
        producer.send(alone, value, key=key)
    producer.flush()
    producer.close()
    want: dict[int, list[int]] = {}
    for r in read_all(settings, alone):
        want.setdefault(r.partition, []).append(orjson.loads(r.value)["n"])
    records = read_all(settings, topic)
    by_partition = {r.partition: r for r in records}
    assert len(records) == len(by_partition)  # one record per partition
    assert {p: [d["n"] for d in unpack(r.value, "x")] for p, r in by_partition.items()} == want
    assert all(r.key is None for r in records)


def _skipped(worker: WorkerProcess, kind: str) -> float:
    status, text = http.get(worker.web_port, "/metrics", API_TOKEN)
    assert status == 200
    m = re.search(rf'scrapeguard_records_skipped_total{{kind="{kind}"}} ([0-9.e+]+)', text)
    return float(m.group(1)) if m else 0.0


def test_the_agents_count_a_bad_item_and_a_record_that_is_not_json(
    broker: EmbeddedBroker, worker: WorkerProcess
) -> None:
    settings = Settings(broker=broker.url, app_id="e2e")
    worker.wait_ready()
    before = {k: _skipped(worker, k) for k in ("activity", "feed_item")}
    consumed = (worker.health() or {}).get("pipeline", {})
    bad_activity = orjson.dumps({"a": "account:x", "i": "192.0.2.1", "t": 1e9, "v": -5})
    bad_feed = orjson.dumps({"kind": "gossip", "key": "k", "actor": "account:x", "ts": 1e9})
    messages = [
        # a pack of two bad items; a record of one bad item, as versions before packs wrote
        (settings.activity_topic, None, b"[" + bad_activity + b",[1]]", 0),
        (settings.activity_topic, b"192.0.2.0/24", bad_activity, None),
        (settings.activity_topic, None, b"not json", 1),
        (settings.incident_feed_topic, None, b"[" + bad_feed + b",7]", 0),
        (settings.incident_feed_topic, None, b"{", 1),
    ]

    async def go() -> None:
        producer = new_producer(settings)
        await producer.start()
        try:
            await BatchWriter(producer).write(messages)
        finally:
            await producer.stop()

    asyncio.run(go())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = (worker.health() or {}).get("pipeline", {})
        if (
            now.get("activities", 0) >= consumed.get("activities", 0) + 3
            and now.get("feed_items", 0) >= consumed.get("feed_items", 0) + 2
        ):
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"the agents did not read the records: {worker.health()}")
    # every bad item and every record that is not JSON counted once; the worker works on
    assert _skipped(worker, "activity") - before["activity"] == 4
    assert _skipped(worker, "feed_item") - before["feed_item"] == 3
    worker.wait_ready()  # still answering
