"""The decision API, explain, incidents, the ledger report and metrics on a running worker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from kafka import KafkaProducer

from stream import __version__
from stream.harness.embedded_broker import EmbeddedBroker
from stream.harness.worker_process import WorkerProcess
from tests.e2e import http
from tests.e2e.conftest import API_TOKEN, LEDGER_KEY

pytestmark = pytest.mark.broker

BASE = float(int(time.time() // 3600) * 3600 - 3 * 3600)
SCRAPER = "account:api-scraper"


def get(worker: WorkerProcess, path: str, token: str | None = API_TOKEN) -> tuple[int, Any]:
    return http.get(worker.web_port, path, token)


@pytest.fixture(scope="module")
def scraped(broker: EmbeddedBroker, worker: WorkerProcess) -> dict[str, Any]:
    """A scraper taking names and emails of 450 people, from one address."""
    before = worker.stats()["events"]
    producer = KafkaProducer(bootstrap_servers=broker.address, linger_ms=5)
    for i in range(450):
        doc = {
            "event_id": f"api-{i}",
            "ts": BASE + i * 2,
            "account_id": "api-scraper",
            "ip": "203.0.113.200",
            "user_agent": "python-requests/2.32",
            "path": "/profiles/{id}",
            "status": 200,
            "target_profile_id": f"person-{i}",
            "fields": ["name", "email"],
        }
        producer.send("requests", orjson.dumps(doc), key=SCRAPER.encode())
    producer.flush()
    producer.close()
    worker.wait_processed(before + 450)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status, body = get(worker, f"/decisions/{quote(SCRAPER)}")
        if status == 200 and body["action"] == "block":
            break
        time.sleep(0.3)
    return {"ts0": BASE}


def test_current_decision_for_an_actor(scraped: dict[str, Any], worker: WorkerProcess) -> None:
    status, body = get(worker, f"/decisions/{quote(SCRAPER)}")
    assert status == 200
    assert body["action"] == "block" and body["in_force"]
    assert body["expires_at"] == body["decision"]["expires_at"]
    assert any(r.startswith("profile_views_after_challenge") for r in body["reasons"])
    status, body = get(worker, "/decisions/account:nobody-at-all")
    assert status == 404 and "no decision" in body["error"]


def test_decisions_are_listed_filtered_and_paged(
    scraped: dict[str, Any], worker: WorkerProcess
) -> None:
    status, body = get(worker, f"/decisions?action=block&since={BASE}&limit=1")
    assert status == 200 and len(body["items"]) == 1
    assert all(d["action"] == "block" for d in body["items"])
    if body["next_cursor"]:
        status, more = get(
            worker,
            f"/decisions?action=block&since={BASE}&limit=1&cursor={quote(body['next_cursor'])}",
        )
        assert status == 200 and more["items"][0]["decision_id"] != body["items"][0]["decision_id"]
    assert get(worker, "/decisions?action=maybe")[0] == 400


def test_explain_in_words(scraped: dict[str, Any], worker: WorkerProcess) -> None:
    status, body = get(worker, f"/explain/{quote(SCRAPER)}")
    assert status == 200 and body["known"]
    words = " ".join(body["words"])
    assert "different profiles viewed in the last hour" in words
    assert "In force now: blocked" in words
    checks = {c["metric"]: c for c in body["checks"]}
    assert checks["profiles_per_hour"]["status"] == "over the challenge limit"
    assert [d["action"] for d in body["decisions"]] == ["challenge", "block"]
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "stream",
            "explain",
            SCRAPER,
            "--url",
            f"http://127.0.0.1:{worker.web_port}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        env={**os.environ, "SCRAPEGUARD_API_TOKEN": API_TOKEN},
    )
    assert f"{SCRAPER}: block" in out.stdout and "history:" in out.stdout
    assert get(worker, f"/explain/{quote(SCRAPER)}", token=None)[0] == 401


def test_incident_and_breach_report(
    scraped: dict[str, Any], broker: EmbeddedBroker, worker: WorkerProcess, tmp_path: Path
) -> None:
    deadline = time.monotonic() + 30
    mine: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not mine:
        _, body = get(worker, "/incidents")
        mine = [
            i
            for i in body["items"]
            if i["key"] == "subnet:203.0.113.0/24" and i["affected_profiles"] >= 380
        ]
        time.sleep(0.5)
    assert mine, "no incident for the scraper's subnet"
    inc = mine[0]
    assert inc["fields_exposed"] == ["email", "name"] and inc["severity"] == "high"
    assert all(a.startswith("account:p_") for a in inc["actors"])  # pseudonymised
    assert {d["action"] for d in inc["decisions"]} == {"challenge", "block"}
    # views before the first decision are in the ledger too (the actor was watched)
    assert inc["affected_profiles"] >= 380  # all but the first ~50, seen before the watch began
    env = {**os.environ, "SCRAPEGUARD_APP_ID": "e2e"}

    def incidents_cli(*args: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "stream", "incidents", *args, "--broker", broker.url],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout

    assert inc["incident_id"] in incidents_cli("list")
    md = incidents_cli("report", inc["incident_id"])
    assert "Personal-data fields exposed:** email, name" in md
    assert "person-1" not in md  # pseudonyms only without the key
    key = tmp_path / "ledger.key"
    key.write_text(LEDGER_KEY)
    revealed = incidents_cli(
        "report", inc["incident_id"], "--format", "json", "--reveal-with", str(key)
    )
    report = orjson.loads(revealed)
    ids = {p.get("profile_id") for p in report["people"]}
    assert {f"person-{i}" for i in range(100, 200)} <= ids
    assert report["affected_people"] == len(report["people"]) >= 380
    status, page = get(worker, f"/incidents/{inc['incident_id']}/report?format=md")
    assert status == 200 and f"# Incident {inc['incident_id']}" in page


def test_metrics(scraped: dict[str, Any], worker: WorkerProcess) -> None:
    status, text = get(worker, "/metrics")
    assert status == 200
    for name in (
        "scrapeguard_events_total",
        "scrapeguard_decisions_total",
        "scrapeguard_event_to_decision_seconds_bucket",
        "scrapeguard_active_actors",
        "scrapeguard_open_incidents",
        'scrapeguard_model_info{model="ensemble@1",slot="live"} 1.0',
        f'scrapeguard_build_info{{version="{__version__}"}} 1.0',
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "python_gc_collections_total",
        "python_info{",
        'scrapeguard_produce_errors_total{agent="detector"}',
        'scrapeguard_produce_errors_total{agent="correlator"}',
        'scrapeguard_commit_errors_total{agent="detector"}',
        'scrapeguard_control_messages_total{outcome="refused"}',
        'scrapeguard_model_snapshots_total{outcome="written"}',
    ):
        assert name in text, name
    lag = lines(text, "scrapeguard_consumer_lag_records{")
    # both consumer groups, per partition: the detector's (requests) and Faust's (correlator)
    assert any('group="e2e-detector"' in x and 'topic="requests"' in x for x in lag), lag
    assert any('group="e2e"' in x and 'topic="e2e-ip-activity"' in x for x in lag), lag
    assert "scrapeguard_consumer_lag{" not in text  # the old name without a unit is gone
    for agent in ("detector", "correlator", "incidents"):
        counts = lines(text, f'scrapeguard_batch_duration_seconds_count{{agent="{agent}"}}')
        assert counts and float(counts[0].split()[-1]) >= 1, agent


def lines(text: str, prefix: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(prefix)]


def test_health_reports_readiness(worker: WorkerProcess) -> None:
    status, body = get(worker, "/health")
    assert status == 200 and body["ready"] and body["broker_reachable"]
    assert body["partitions"] == list(range(8))
    assert body["serving_ready"] and body["processing_ready"]
    assert get(worker, "/health/serving") == (200, {"ready": True, "worker": body["worker"]})
    status, processing = get(worker, "/health/processing")
    assert status == 200 and processing["ready"] and processing["partitions"] == list(range(8))
