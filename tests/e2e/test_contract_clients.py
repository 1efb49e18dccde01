"""The contract from another client: docs/examples/ run as a platform team would run them.

librdkafka (confluent-kafka) publishes events keyed by actor; the session worker decides;
a librdkafka consumer group reads the decisions, skips the end markers and commits.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import Consumer, TopicPartition
from jsonschema import Draft202012Validator

from stream.harness.embedded_broker import EmbeddedBroker
from stream.harness.worker_process import WorkerProcess

pytestmark = pytest.mark.broker

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
DECISION_SCHEMA = orjson.loads((ROOT / "docs" / "schemas" / "decision.schema.json").read_bytes())


def scraper_events(account: str) -> list[dict[str, Any]]:
    start = float(int(time.time() // 3600) * 3600 - 3 * 3600)
    return [
        {
            "schema_version": 1,
            "event_id": f"{account}-{i}",
            "ts": start + i * 2.0,
            "account_id": account,
            "ip": "203.0.113.77",
            "user_agent": "python-requests/2.32",
            "path": "/profiles/{id}",
            "status": 200,
            "target_profile_id": 5_000_000 + i,  # integer ids are fine
            "fields": ["name", "email"],
        }
        for i in range(1100)
    ]


def test_librdkafka_producer_and_consumer_group(
    broker: EmbeddedBroker,
    worker: WorkerProcess,
    tmp_path: Path,
) -> None:
    bootstrap = broker.url.removeprefix("kafka://")
    account = f"cfk-{uuid.uuid4().hex[:8]}"
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in scraper_events(account)))
    worker.wait_ready()

    produced = subprocess.run(
        [
            sys.executable,
            str(EXAMPLES / "produce_events.py"),
            str(events),
            "--bootstrap",
            bootstrap,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert produced.returncode == 0, produced.stderr
    assert "published 1100 events to requests" in produced.stdout

    group = f"gateway-{account}"
    consumed = subprocess.run(
        [
            sys.executable,
            str(EXAMPLES / "consume_decisions.py"),
            "--bootstrap",
            bootstrap,
            "--group",
            group,
            "--until-actor",
            f"account:{account}",
            "--timeout-s",
            "150",
        ],
        capture_output=True,
        text=True,
        timeout=200,
    )
    assert consumed.returncode == 0, consumed.stderr[-2000:]
    decisions = [orjson.loads(line) for line in consumed.stdout.splitlines()]
    validator = Draft202012Validator(DECISION_SCHEMA)
    assert decisions and all(validator.is_valid(d) for d in decisions)
    mine = [d for d in decisions if d["actor"] == f"account:{account}"]
    assert [d["action"] for d in mine][-2:] == ["challenge", "block"]

    # the group committed its position: a new member of the group starts after it
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        parts = probe.list_topics("decisions", timeout=10).topics["decisions"].partitions
        committed = probe.committed([TopicPartition("decisions", p) for p in parts], timeout=10)
    finally:
        probe.close()
    assert sum(max(tp.offset, 0) for tp in committed) >= len(decisions)
