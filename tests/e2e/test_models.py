"""Model lifecycle on a running worker: shadow, promote, rollback, refusals, snapshots."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaProducer

from models import REGISTRY, ModelSpec
from stream.core import control
from stream.harness.embedded_broker import EmbeddedBroker
from stream.harness.worker_process import WorkerProcess
from tests.e2e.conftest import CONTROL_KEY
from tests.e2e.kafka_io import TopicReader

pytestmark = pytest.mark.broker

BASE = float(int(time.time() // 3600) * 3600 - 2 * 3600)


def cli(
    broker: EmbeddedBroker, *args: str, key: str | None = CONTROL_KEY, check: bool = True
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SCRAPEGUARD_CONTROL_KEY"}
    env["SCRAPEGUARD_APP_ID"] = "e2e"  # the CLI and the workers share settings
    if key is not None:
        env["SCRAPEGUARD_CONTROL_KEY"] = key
    return subprocess.run(
        [sys.executable, "-m", "stream", *args, "--broker", broker.url],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=check,
    )


def until(
    worker: WorkerProcess, pred: Callable[[dict[str, Any]], bool], timeout_s: float = 30
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        h = worker.health()
        if h and pred(h):
            return h
        time.sleep(0.3)
    raise AssertionError(f"worker never got there: {worker.health()}")


def busy_traffic(broker: EmbeddedBroker, tag: str, actors: int = 15, n: int = 140) -> int:
    """Actors busy enough to be scored, under every hard limit."""
    producer = KafkaProducer(bootstrap_servers=broker.address, linger_ms=5)
    sent = 0
    for a in range(actors):
        for i in range(n):
            doc = {
                "event_id": f"{tag}-{a}-{i}",
                "ts": BASE + a * 7 + i * 15,
                "account_id": f"{tag}-{a}",
                "ip": f"198.51.{a}.10",
                "user_agent": "Mozilla/5.0",
                "path": "/profiles/{id}",
                "status": 200,
                "target_profile_id": str(1000 * a + i % 70),
            }
            producer.send("requests", orjson.dumps(doc), key=f"account:{tag}-{a}".encode())
            sent += 1
    producer.flush()
    producer.close()
    return sent


def raw_control(broker: EmbeddedBroker, message: bytes) -> None:
    producer = KafkaProducer(bootstrap_servers=broker.address)
    producer.send("control", message, partition=0).get(timeout=30)
    producer.close()


def test_shadow_then_promote_then_rollback(
    broker: EmbeddedBroker, worker: WorkerProcess, tmp_path: Path
) -> None:
    assert worker.stats()["model"] == "ensemble@1"  # type: ignore[index]
    params = '{"learning_rate": 0.05}'
    out = cli(broker, "models", "deploy", "supervised", "--params", params, "--shadow")
    assert "sent: deploy supervised@1" in out.stdout
    until(worker, lambda h: h["shadow_model"] == "supervised@1")
    listed = orjson.loads(cli(broker, "models", "list", "--json").stdout)
    roles = {m["name"]: m["role"] for m in listed["models"] if m["role"]}
    assert roles == {"ensemble": "live", "supervised": "shadow"}
    assert listed["slots"]["shadow"]["params"]["learning_rate"] == 0.05

    before = worker.stats()["events"]
    worker.wait_processed(before + busy_traffic(broker, "shadowed"))
    reader = TopicReader(broker.address, "scrapeguard-scores".replace("scrapeguard", "e2e"))
    scores = reader.wait_for(lambda rs: any(r.get("slot") == "shadow" for r in rs))
    reader.close()
    shadow_actors = {r["actor"] for r in scores if r["slot"] == "shadow"}
    live_actors = {r["actor"] for r in scores if r["slot"] == "live"}
    assert shadow_actors and shadow_actors <= live_actors  # same actors, scored by both
    assert {r["model"] for r in scores if r["slot"] == "shadow"} == {"supervised@1"}
    compared = cli(broker, "models", "compare").stdout
    assert "shadow models: supervised@1" in compared and "by both" in compared
    labels = tmp_path / "labels.txt"  # bare ids, as a dataset gives them
    labels.write_text(
        "".join(f"shadowed-{a} {'human' if a % 2 else 'bulk_scraper'}\n" for a in range(15))
        + "nobody-here human\n"
    )
    doc = orjson.loads(cli(broker, "models", "compare", "--labels", str(labels), "--json").stdout)
    assert doc["labelled"] == 15 and doc["labels_resolution"]["prefixed"] == 15
    assert doc["labels_resolution"]["unmatched_ids"] == ["nobody-here"]
    for slot in ("live", "shadow"):
        assert 0.0 <= doc["roc_auc_all"][slot] <= 1.0
        assert 0.0 <= doc["roc_auc_scored"][slot] <= 1.0

    events_before = worker.stats()["events"]
    cli(broker, "models", "promote")
    h = until(worker, lambda h: h["model"] == "supervised@1" and h["shadow_model"] is None)
    assert h["events"] == events_before  # no restart: the same process, same counters
    cli(broker, "models", "rollback")
    until(worker, lambda h: h["model"] == "ensemble@1")
    assert "rollback" not in cli(broker, "models", "list").stdout  # nothing left to roll back


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: orjson.dumps({"op": "promote", "id": "x"}), "unsigned"),
        (lambda: control.make("promote", b"not-the-key", seq=1), "bad_signature"),
        (
            lambda: control.sign(
                {
                    "v": 2,
                    "id": "u1",
                    "issuer": "e2e-test",
                    "seq": 1,
                    "issued_at": time.time(),
                    "op": "deploy",
                    "slot": "live",
                    "spec": {"name": "forest-of-pickles", "version": "1"},
                },
                CONTROL_KEY.encode(),
            ),
            "unknown_model",
        ),
        (
            lambda: control.make(
                "deploy",
                CONTROL_KEY.encode(),
                seq=2,
                issuer="e2e-test",
                slot="live",
                spec=ModelSpec("hst", "2", {"n_trees": "many"}),
            ),
            "invalid_params",
        ),
        (
            lambda: control.make(
                "deploy",
                CONTROL_KEY.encode(),
                seq=3,
                issuer="e2e-test",
                slot="shadow",
                spec=ModelSpec("ocsvm", "2", {"nu": 7.0}),
            ),
            "invalid_params",
        ),
        (
            lambda: control.make(
                "deploy",
                CONTROL_KEY.encode(),
                seq=4,
                issuer="e2e-test",
                slot="live",
                spec=ModelSpec("hst", "2", {"height": -5}),  # a RecursionError once
            ),
            "invalid_params",
        ),
        (
            lambda: control.make(
                "promote",
                CONTROL_KEY.encode(),
                seq=99,
                issuer="e2e-test",
                issued_at=time.time() - 7200,
            ),
            "stale",
        ),
        (lambda: b"\x80\x04pickle-looking bytes", "malformed"),
    ],
)
def test_bad_control_messages_are_refused_and_change_nothing(
    broker: EmbeddedBroker, worker: WorkerProcess, make: Callable[[], bytes], reason: str
) -> None:
    h = worker.stats()
    key = f"control_refused_{reason}"
    seen = h["model_control"].get(key, 0)
    raw_control(broker, make())
    h = until(worker, lambda h: h["model_control"].get(key, 0) == seen + 1)
    assert h["model"] == "ensemble@1" and h["shadow_model"] is None


def test_cli_refuses_what_workers_would_refuse(broker: EmbeddedBroker) -> None:
    bad = cli(broker, "models", "deploy", "nope", "--live", check=False)
    assert bad.returncode == 1 and "no model named 'nope'" in bad.stderr
    nokey = cli(broker, "models", "deploy", "hst", "--live", key=None, check=False)
    assert nokey.returncode == 1 and "SCRAPEGUARD_CONTROL_KEY" in nokey.stderr
    nothing = cli(broker, "models", "promote", check=False)
    assert nothing.returncode == 1 and "no shadow model" in nothing.stderr


def test_learned_state_survives_a_restart_and_forged_snapshots_are_refused(
    broker: EmbeddedBroker, worker: WorkerProcess
) -> None:
    before = worker.stats()["events"]
    worker.wait_processed(before + busy_traffic(broker, "snap", actors=5, n=60))
    time.sleep(3)  # a snapshot round (every 2 s in the tests)
    reader = TopicReader(broker.address, "e2e-model-snapshots")
    snaps = reader.wait_for(lambda rs: len(rs) >= 8, settle_s=0.5)
    reader.close()
    assert "live" in {orjson.loads(s["header"])["slot"] for s in snaps}
    # forge one: a snapshot for partition 0 signed with another key
    forged = __import__("models.snapshot", fromlist=["dump"]).dump(
        REGISTRY.get("hst").build(), REGISTRY.get("hst").spec(), 0, b"attacker-key"
    )
    worker.stop()  # a clean stop snapshots every partition: forge after it, not before
    producer = KafkaProducer(bootstrap_servers=broker.address)
    producer.send("e2e-model-snapshots", forged, key=b"live:0", partition=0).get(timeout=30)
    producer.close()
    worker.start()
    h = worker.stats()
    assert h["model_control"].get("snapshot_refused") == 1  # partition 0: starts fresh
    assert h["model_control"].get("snapshot_restored") == 7  # the other seven partitions
