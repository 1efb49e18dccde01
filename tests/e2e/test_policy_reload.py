"""A policy deployed through the control topic reaches a running worker without a restart."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import orjson
import pytest
from kafka import KafkaProducer

from stream.harness.embedded_broker import EmbeddedBroker
from stream.harness.worker_process import WorkerProcess
from tests.e2e.conftest import CONTROL_KEY, E2E_ALLOWLIST
from tests.e2e.kafka_io import TopicReader

pytestmark = pytest.mark.broker

STRICT = E2E_ALLOWLIST + "\n[limits]\nrequests_per_minute = { challenge = 20 }\n"


def deploy(broker: EmbeddedBroker, policy: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SCRAPEGUARD_CONTROL_KEY": CONTROL_KEY, "SCRAPEGUARD_APP_ID": "e2e"}
    return subprocess.run(
        [sys.executable, "-m", "stream", "policy", "deploy", str(policy), "--broker", broker.url],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def wait_applied(worker: WorkerProcess, text: str, timeout_s: float = 60) -> None:
    """Until the worker logs that it applied the policy with this text."""
    sha = hashlib.sha256(text.encode()).hexdigest()[:12]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        # whole lines only: the worker may be writing the last one while it is read
        written = worker.log_path.read_text().rpartition("\n")[0]
        for line in written.splitlines():
            if line.startswith("{"):
                entry = orjson.loads(line)
                if entry.get("event") == "control_applied" and entry.get("policy") == sha:
                    return
        time.sleep(0.3)
    raise AssertionError(f"policy {sha} never applied")


def burst(broker: EmbeddedBroker, account: str, n: int = 40) -> int:
    """``n`` feed requests in one minute of event time: 40/min, far under the default 180."""
    start = float(int(time.time()) - 1800)
    producer = KafkaProducer(bootstrap_servers=broker.address, linger_ms=5)
    for i in range(n):
        doc = {
            "event_id": f"{account}-{i}",
            "ts": start + i * 1.5,
            "account_id": account,
            "ip": "198.51.100.99",
            "user_agent": "Mozilla/5.0",
            "path": "/feed",
            "status": 200,
        }
        producer.send("requests", orjson.dumps(doc), key=f"account:{account}".encode())
    producer.flush()
    producer.close()
    return n


def test_policy_deploy_applies_without_a_restart(
    broker: EmbeddedBroker, worker: WorkerProcess, session_dir: Path, tmp_path: Path
) -> None:
    worker.wait_ready()
    strict = tmp_path / "strict.toml"
    strict.write_text(STRICT)
    bad = tmp_path / "bad.toml"
    bad.write_text('[limits]\nrequests_per_minute = { challenge = "20" }\n')
    refused = deploy(broker, bad)
    assert refused.returncode == 1 and f"{bad}:2: [limits] requests_per_minute" in refused.stderr

    pid = worker.proc.pid if worker.proc else None
    sent = deploy(broker, strict)
    assert sent.returncode == 0 and "sent: policy" in sent.stdout, sent.stderr
    original = session_dir / "policy.toml"  # what the session worker started with
    reader = TopicReader(broker.address, "decisions")
    try:
        wait_applied(worker, STRICT)
        fast = f"reload-{uuid.uuid4().hex[:6]}"
        burst(broker, fast)
        decisions = reader.wait_for(
            lambda rs: any(d["actor"] == f"account:{fast}" for d in rs), settle_s=0.5
        )
        mine = [d for d in decisions if d["actor"] == f"account:{fast}"]
        assert mine[0]["action"] == "challenge"
        assert mine[0]["reasons"][0].startswith("requests_per_minute ")
        assert mine[0]["reasons"][0].endswith(" > 20")
    finally:
        restored = deploy(broker, original)
        assert restored.returncode == 0, restored.stderr
    wait_applied(worker, original.read_text())
    assert worker.proc is not None and worker.proc.pid == pid  # the same process throughout

    # back under the session's policy (180 a minute): the same burst is left alone
    calm = f"reload-{uuid.uuid4().hex[:6]}"
    before = worker.stats()["events"]
    worker.wait_processed(before + burst(broker, calm))
    time.sleep(2)
    reader.poll()
    assert not [d for d in reader.records if d["actor"] == f"account:{calm}"]
    reader.close()
