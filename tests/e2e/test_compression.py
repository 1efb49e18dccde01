"""Producers may compress their batches with any codec Kafka knows: the worker decides on
events that arrive gzip-, snappy-, lz4- or zstd-compressed, as on uncompressed ones."""

from __future__ import annotations

import time
import uuid

import orjson
import pytest
from kafka import KafkaProducer

from stream.harness.embedded_broker import EmbeddedBroker
from stream.harness.worker_process import WorkerProcess
from tests.e2e import http
from tests.e2e.enforcement import wait_until

pytestmark = pytest.mark.broker

CODECS = ("gzip", "snappy", "lz4", "zstd")


def test_every_compression_codec_is_read(broker: EmbeddedBroker, worker: WorkerProcess) -> None:
    worker.wait_ready()
    before = worker.stats()["events"]
    run = uuid.uuid4().hex[:8]
    start = time.time() - 400
    for codec in CODECS:
        producer = KafkaProducer(
            bootstrap_servers=broker.address, compression_type=codec, linger_ms=20
        )
        for i in range(150):  # an HTTP library walking profiles: challenged by the model
            doc = {
                "event_id": f"{codec}-{run}-{i}",
                "ts": start + i * 2.0,
                "account_id": f"codec-{codec}-{run}",
                "ip": "198.51.100.9",
                "user_agent": "python-requests/2.32",
                "path": "/profiles/{id}",
                "status": 200,
                "target_profile_id": f"{codec}-{i}",
            }
            producer.send(
                "requests", orjson.dumps(doc), key=f"account:codec-{codec}-{run}".encode()
            )
        producer.flush()
        producer.close()
    worker.wait_processed(before + 150 * len(CODECS), timeout_s=120)
    for codec in CODECS:
        actor = f"account:codec-{codec}-{run}"
        _, got = wait_until(
            lambda a=actor: (r := http.get(worker.web_port, f"/decisions/{a}"))[0] == 200 and r,
            30,
        )
        assert got["action"] in ("challenge", "block"), (codec, got)
