"""Two workers: partitions split, explain is routed to the owner on the workers' own
credential, each worker's API token is enforced."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from kafka import KafkaProducer

from stream.harness.embedded_broker import EmbeddedBroker, free_port
from stream.harness.worker_process import WorkerProcess
from stream.kafka.writer import partition_for
from tests.e2e.http import get

pytestmark = pytest.mark.broker
TOKEN = "s3cret-token-of-the-second-worker-0123"


def until(pred: Any, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.5)
    raise AssertionError("timed out")


def test_second_worker_shares_partitions_routes_explain_and_requires_its_token(
    broker: EmbeddedBroker, worker: WorkerProcess, worker_env: dict[str, str], session_dir: Path
) -> None:
    env_b = {**worker_env, "SCRAPEGUARD_WEB_PORT": str(free_port()), "SCRAPEGUARD_API_TOKEN": TOKEN}
    b = WorkerProcess(env_b, session_dir / "worker-b.log")
    b.start()
    try:
        until(
            lambda: (
                len((worker.health() or {}).get("partitions", [])) == 4
                and len((b.health() or {}).get("partitions", [])) == 4
            )
        )
        a_parts = set(worker.stats()["partitions"])  # type: ignore[index]
        actor = next(
            f"account:mw-{i}"
            for i in range(100)
            if partition_for(f"account:mw-{i}".encode(), 8) in a_parts
        )
        before = worker.stats()["events"]
        producer = KafkaProducer(bootstrap_servers=broker.address)
        for i in range(20):
            doc = {
                "event_id": f"mw-{i}",
                "ts": time.time() - 100 + i,
                "account_id": actor[8:],
                "ip": "198.51.100.77",
                "path": "/profiles/{id}",
                "status": 200,
                "target_profile_id": str(i),
            }
            producer.send("requests", orjson.dumps(doc), key=actor.encode())
        producer.flush()
        producer.close()
        worker.wait_processed(before + 20)

        # B requires its own token (A's is not B's); /health stays open for probes
        assert get(b.web_port, f"/decisions/{quote(actor)}")[0] == 401
        assert get(b.web_port, f"/decisions/{quote(actor)}", token=None)[0] == 401
        assert get(b.web_port, f"/explain/{quote(actor)}", token="wrong")[0] == 401
        assert get(b.web_port, "/health")[0] == 200
        # B does not own the actor's partition: it routes the question to A, which has
        # another token — B's caller's token is not forwarded, B's peer credential is
        until(lambda: get(b.web_port, f"/explain/{quote(actor)}", TOKEN)[1].get("known"), 30)
        status, body = get(b.web_port, f"/explain/{quote(actor)}", TOKEN)
        assert status == 200 and body["answered_by"] == worker.stats()["worker"]
        assert body["counters"]["requests_per_hour"] == 20
        # decisions are answered by any worker from its global view: 404 here, not routed
        assert get(b.web_port, f"/decisions/{quote(actor)}", TOKEN)[0] == 404
    finally:
        b.stop()
    until(lambda: len((worker.health() or {}).get("partitions", [])) == 8)
