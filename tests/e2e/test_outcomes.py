"""Labels on the outcomes topic, end to end: `scrapeguard label` → the worker that owns the
actor teaches its model; a record that does not decode is dead-lettered with the reason."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from kafka import KafkaProducer

from stream.core.operator_records import ManualDecision, manual_key
from stream.harness.embedded_broker import EmbeddedBroker
from stream.harness.worker_process import WorkerProcess
from tests.e2e import http
from tests.e2e.conftest import CONTROL_KEY
from tests.e2e.enforcement import cli, scrape, wait_until
from tests.e2e.kafka_io import TopicReader

pytestmark = pytest.mark.broker


def dead_letter_of(broker: EmbeddedBroker, topic: str, value: bytes, key: bytes) -> Any:
    """Send ``value`` keyed ``key`` to ``topic``; the one dead letter it becomes."""
    dead = TopicReader(broker.address, "deadletter")
    producer = KafkaProducer(bootstrap_servers=broker.address)
    producer.send(topic, value, key=key)
    producer.flush()
    producer.close()
    key_b64 = base64.b64encode(key).decode()

    def mine(rs: list[Any]) -> list[Any]:
        return [r for r in rs if r["source"]["topic"] == topic and r["key_b64"] == key_b64]

    got = dead.wait_for(lambda rs: bool(mine(rs)), settle_s=0)
    dead.close()
    (rec,) = mine(got)
    return rec


def action_of(worker: WorkerProcess, actor: str) -> str | None:
    """The action in force on ``actor`` by ``GET /decisions/{actor}``."""
    status, body = http.get(worker.web_port, f"/decisions/{actor}")
    return body["action"] if status == 200 else None


def outcome_count(worker: WorkerProcess, kind: str) -> float:
    status, text = http.get(worker.web_port, "/metrics")
    assert status == 200
    m = re.search(rf'^scrapeguard_outcomes_total\{{kind="{kind}"\}} (\S+)$', text, re.M)
    return float(m.group(1)) if m else 0.0


def test_a_label_from_the_cli_teaches_the_owner_of_the_actor(
    broker: EmbeddedBroker, worker: WorkerProcess
) -> None:
    before = worker.stats()
    learned = outcome_count(worker, "learned_live")
    scrape(broker, "lbl-mallory", 15, "203.0.113.77", time.time() - 600)
    worker.wait_processed(before["events"] + 15, timeout_s=60)

    out = cli(broker, "label", "account:lbl-mallory", "bot", "--reason", "case 17")
    assert "account:lbl-mallory: verdict_bot (" in out and "published 1 outcome(s)" in out

    # the session's live model (the ensemble) learns labels through its supervised part
    wait_until(lambda: outcome_count(worker, "verdict_bot") >= 1, 30)
    wait_until(lambda: outcome_count(worker, "learned_live") >= learned + 1, 30)


def test_an_unknown_actor_is_counted_and_a_bad_record_is_dead_lettered(
    broker: EmbeddedBroker, worker: WorkerProcess
) -> None:
    unknown = outcome_count(worker, "unknown_actor")
    cli(broker, "label", "account:lbl-never-seen", "human", "--as", "appeal", "--reason", "r")
    wait_until(lambda: outcome_count(worker, "unknown_actor") >= unknown + 1, 30)

    rec = dead_letter_of(broker, "e2e-outcomes", b'{"kind": "verdict_bot"}', b"account:lbl-bad")
    assert rec["reason"] == "invalid_outcome" and "outcome:" in rec["detail"]


def test_a_bad_manual_decision_record_is_dead_lettered(broker: EmbeddedBroker) -> None:
    rec = dead_letter_of(broker, "e2e-manual-decisions", b'{"op": "add"}', b"account:lbl-bad-m")
    assert rec["reason"] == "invalid_manual_decision" and "manual decision" in rec["detail"]


def test_an_outcome_keyed_by_another_actor_is_dead_lettered(broker: EmbeddedBroker) -> None:
    """Keyed otherwise than by its actor, a label would reach a partition without the
    actor's state and teach nothing: it is refused with the reason instead."""
    doc = {"outcome_id": "o-k", "actor": "ip:2001:db8::1", "kind": "verdict_bot", "ts": 1.7e9}
    rec = dead_letter_of(broker, "e2e-outcomes", orjson.dumps(doc), b"ip:2001:DB8::1")
    assert rec["reason"] == "invalid_outcome"
    assert "keyed 'ip:2001:DB8::1'" in rec["detail"] and "'ip:2001:db8::1'" in rec["detail"]


def _forged(actor: str) -> bytes:
    """An allow of ten years, not signed: what a writer of the topic without the key can
    write (a platform service that publishes requests, say)."""
    body = {"manual_id": "forged", "actor": actor, "op": "add", "action": "allow"}
    return orjson.dumps(
        {**body, "ttl_s": 315_360_000.0, "reason": "partner", "by": "ops", "ts": time.time()}
    )


def _made_an_hour_ago(actor: str) -> bytes:
    """An operator's signed allow, appended again an hour after it was made."""
    old = ManualDecision(
        "m-old", actor, "add", "allow", 86400.0, "partner", "ops", time.time() - 3600
    )
    return old.encode(manual_key(CONTROL_KEY.encode()))


@pytest.mark.parametrize(
    ("actor", "record", "why"),
    [
        ("account:forger", _forged, "not signed with this deployment's control key"),
        ("account:replayer", _made_an_hour_ago, "a record appended again"),
    ],
)
def test_a_manual_allow_not_made_by_an_operator_now_is_dead_lettered_and_lifts_nothing(
    broker: EmbeddedBroker,
    worker: WorkerProcess,
    actor: str,
    record: Callable[[str], bytes],
    why: str,
) -> None:
    # (review of this stop) manual decisions were not signed: a writer of the topic could
    # allow its own scraper. Now they are signed with a key derived from the control key,
    # and a record must enter the topic within control_window_s (600 s) of when it was made
    cli(broker, "decisions", "add", actor, "--action", "block", "--ttl", "2h", "--reason", "r")
    wait_until(lambda: action_of(worker, actor) == "block", 30)
    rec = dead_letter_of(broker, "e2e-manual-decisions", record(actor), actor.encode())
    assert rec["reason"] == "invalid_manual_decision" and why in rec["detail"]
    time.sleep(1.0)  # the worker read the record (it dead-lettered it) and kept the block
    assert action_of(worker, actor) == "block"
