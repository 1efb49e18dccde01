"""Window state lives in the changelog: it survives a worker restart."""

from __future__ import annotations

import random
import time
from urllib.parse import quote

import orjson
import pytest
from kafka import KafkaProducer

from stream.harness.embedded_broker import EmbeddedBroker
from stream.harness.worker_process import WorkerProcess
from tests.e2e import http
from tests.e2e.conftest import API_TOKEN

pytestmark = pytest.mark.broker

BASE = float(int(time.time() // 3600) * 3600 - 3 * 3600)
ACTOR = "account:e2e-resume"


def send(broker: EmbeddedBroker, start: int, n: int) -> None:
    """Profile views with irregular gaps and ids in no order, ~4 s apart: 330 take ~22
    minutes, all inside one hour of event time."""
    rng = random.Random(start)
    producer = KafkaProducer(bootstrap_servers=broker.address, linger_ms=5)
    ts = BASE + start * 4
    for i in range(start, start + n):
        ts += rng.lognormvariate(0.9, 1.0)  # a person: ~4 s on average, a long tail
        doc = {
            "event_id": f"resume-{i}",
            "ts": round(ts, 3),
            "account_id": "e2e-resume",
            "ip": "198.51.100.200",
            "path": "/profiles/{id}",
            "status": 200,
            "target_profile_id": str(rng.randrange(10**9)),
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        }
        producer.send("requests", orjson.dumps(doc), key=b"account:e2e-resume")
    producer.flush()
    producer.close()


def test_counters_survive_a_restart(broker: EmbeddedBroker, worker: WorkerProcess) -> None:
    before = worker.health()
    assert before is not None
    send(broker, 0, 250)  # below the 300/hour limit
    worker.wait_processed(before["events"] + 250)
    assert worker.stop() == 0  # SIGTERM: a clean stop
    worker.start()
    assert worker.health()["events"] == 0  # a new process: its counters start at 0
    send(broker, 250, 80)  # only 330 in the hour if the first 250 were remembered
    worker.wait_processed(80)
    status, body = http.get(worker.web_port, f"/explain/{quote(ACTOR)}", API_TOKEN)
    assert status == 200 and body["known"], body
    counters = body["counters"]
    assert counters["requests_per_hour"] == 330, counters  # 80 if it had forgotten
    assert counters["profiles_per_hour"] > 300, counters  # distinct: an estimate above 32
    checks = {c["metric"]: c for c in body["checks"]}
    assert checks["profiles_per_hour"]["status"] == "over the challenge limit"
