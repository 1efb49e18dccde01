"""Readiness through a broker blip: a worker keeps serving decisions from memory while its
broker is frozen, reports that it cannot process, and processes again when the broker is back.

Its own broker (frozen with SIGSTOP, like an outage) and worker: the session's stay untouched.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from kafka import KafkaProducer

from stream.harness.embedded_broker import EmbeddedBroker, free_port
from stream.harness.worker_process import WorkerProcess
from tests.e2e import http

pytestmark = pytest.mark.broker

ACTOR = "account:blip-scraper"
OUTAGE_S = 15.0


@pytest.fixture(scope="module")
def blip(
    worker_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[EmbeddedBroker, WorkerProcess]]:
    d: Path = tmp_path_factory.mktemp("blip")
    broker = EmbeddedBroker(port=free_port(), log_path=d / "broker.log")
    broker.start()
    env = dict(
        worker_env,
        SCRAPEGUARD_BROKER=broker.url,
        SCRAPEGUARD_APP_ID="blip",
        SCRAPEGUARD_WEB_PORT=str(free_port()),
        SCRAPEGUARD_DATA_DIR=str(d / "data"),
    )
    worker = WorkerProcess(env, d / "worker.log")
    try:
        worker.start()
        yield broker, worker
    finally:
        worker.stop()
        broker.resume()
        broker.stop()


def timed_get(worker: WorkerProcess, path: str) -> tuple[int, Any, float]:
    started = time.monotonic()
    status, body = http.get(worker.web_port, path)
    return status, body, time.monotonic() - started


def block_one_scraper(broker: EmbeddedBroker, worker: WorkerProcess) -> None:
    base = float(int(time.time() // 3600) * 3600 - 3600)
    producer = KafkaProducer(bootstrap_servers=broker.address, linger_ms=5)
    for i in range(450):
        doc = {
            "event_id": f"blip-{i}",
            "ts": base + i * 2,
            "account_id": "blip-scraper",
            "ip": "203.0.113.77",
            "user_agent": "python-requests/2.32",
            "path": "/profiles/{id}",
            "status": 200,
            "target_profile_id": f"person-{i}",
            "fields": ["name", "email"],
        }
        producer.send("requests", orjson.dumps(doc), key=ACTOR.encode())
    producer.flush()
    producer.close()
    worker.wait_processed(450)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status, body = http.get(worker.web_port, f"/decisions/{quote(ACTOR)}")
        if status == 200 and body["action"] == "block":
            return
        time.sleep(0.3)
    raise AssertionError(f"no block decision for {ACTOR}: {status} {body}")


def test_serving_stays_ready_through_a_broker_blip(
    blip: tuple[EmbeddedBroker, WorkerProcess],
) -> None:
    broker, worker = blip
    block_one_scraper(broker, worker)
    assert http.get(worker.web_port, "/health/serving")[0] == 200
    status, body = http.get(worker.web_port, "/health/processing")
    assert status == 200 and body["broker_reachable"] and body["partitions"] == list(range(8))

    broker.pause()
    try:
        saw_not_processing = False
        slowest_serving_s = 0.0
        end = time.monotonic() + OUTAGE_S
        while time.monotonic() < end:
            status, body, took = timed_get(worker, "/health/serving")
            assert status == 200 and body["ready"], body
            slowest_serving_s = max(slowest_serving_s, took)
            status, body, _ = timed_get(worker, f"/decisions/{quote(ACTOR)}")
            assert status == 200 and body["action"] == "block", body  # answered from memory
            status, body, _ = timed_get(worker, "/health/processing")
            if status == 503:
                assert body["ready"] is False and body["broker_reachable"] is False
                saw_not_processing = True
            time.sleep(0.5)
        assert saw_not_processing, "processing readiness never noticed the outage"
        assert slowest_serving_s < 1.0  # a probe's default timeout is 1 s
        status, health, _ = timed_get(worker, "/health")  # the combined view, as before
        assert status == 503 and health["ready"] is False
        assert health["serving_ready"] is True and health["processing_ready"] is False
    finally:
        broker.resume()

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        status, body = http.get(worker.web_port, "/health/processing")
        if status == 200:
            break
        time.sleep(0.5)
    assert status == 200 and body["broker_reachable"], body
    assert worker.proc is not None and worker.proc.poll() is None  # never restarted
