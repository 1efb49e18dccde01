"""The spine end to end: scripted traffic in, exactly the expected decisions and dead letters."""

from __future__ import annotations

import base64
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest

from stream.harness.embedded_broker import EmbeddedBroker
from stream.harness.worker_process import WorkerProcess
from tests.e2e.kafka_io import TopicReader

pytestmark = pytest.mark.broker

BASE = float(int(time.time() // 3600) * 3600 - 4 * 3600)  # event time: 4 hours ago, on the hour
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"


def ev(actor: str, i: int, ts: float, target: str | None, **over: Any) -> dict[str, Any]:
    doc = {
        "event_id": f"{actor}-{i}",
        "ts": ts,
        "account_id": actor,
        "session_id": None,
        "ip": "198.51.100.20",
        "user_agent": BROWSER,
        "method": "GET",
        "path": "/profiles/{id}" if target else "/feed",
        "status": 200,
        "target_profile_id": target,
        "fields": ["name", "email"] if target else None,
    }
    doc.update(over)
    return doc


def scenario() -> tuple[list[dict[str, Any]], list[tuple[bytes, str]]]:
    events: list[dict[str, Any]] = []
    # bulk scraper: 600 distinct profiles in 30 minutes
    events += [
        ev(
            "e2e-scraper",
            i,
            BASE + i * 3,
            str(700_000 + i),
            ip="203.0.113.5",
            user_agent="python-requests/2.32",
        )
        for i in range(600)
    ]
    # new account viewing 150 profiles in its first 10 minutes
    events += [
        ev(
            "e2e-newbie",
            i,
            BASE + 600 + i * 4,
            str(800_000 + i * 13),
            account_created_ts=BASE + 500,
        )
        for i in range(150)
    ]
    # people: a few dozen requests over two hours, a handful of profiles, revisits
    for h in range(5):
        for i in range(40):
            target = str(900 + (i * 7 + h) % 12) if i % 2 == 0 else None
            events.append(
                ev(
                    f"e2e-human-{h}",
                    i,
                    BASE + h * 31 + i * 170,
                    target,
                    ip=f"198.51.100.{30 + h}",
                    account_created_ts=BASE - 300 * 86400,
                )
            )
    # a verified crawler (allowlisted UA from its own range): 1500 profiles, never acted on
    events += [
        ev(
            "unused",
            i,
            BASE + i * 1.2,
            str(100_000 + i),
            account_id=None,
            ip="192.0.2.77",
            user_agent="Mozilla/5.0 (compatible; ExampleSearchBot/2.1)",
            event_id=f"crawler-{i}",
        )
        for i in range(1500)
    ]
    # the same user agent from elsewhere is not the crawler
    events += [
        ev(
            "unused",
            i,
            BASE + i * 2,
            str(200_000 + i),
            account_id=None,
            ip="203.0.113.99",
            user_agent="Mozilla/5.0 (compatible; ExampleSearchBot/2.1)",
            event_id=f"fake-crawler-{i}",
        )
        for i in range(450)
    ]
    events.sort(key=lambda e: e["ts"])
    malformed = [
        (b"this is not json", "invalid_json"),
        (b"[1,2,3]", "not_object"),
        (b"\xff\xfe\x00garbage", "invalid_json"),
        (orjson.dumps(ev("e2e-big", 0, BASE, None, user_agent="x" * 70_000)), "too_large"),
        (orjson.dumps(ev("e2e-x", 0, BASE, None, account_id=None, ip=None)), "missing_identity"),
        (orjson.dumps(ev("e2e-x", 1, "not a time", None)), "invalid_ts"),
        (orjson.dumps(ev("e2e-x", 2, BASE, None, status="200")), "invalid_field"),
        (orjson.dumps(ev("e2e-x", 3, 1e15, None)), "ts_in_future"),
        (orjson.dumps(ev("e2e-x", 4, 12.0, None)), "ts_out_of_range"),
        (orjson.dumps(ev("e2e-x", 5, BASE, None, tenant="acme/account:bob")), "invalid_field"),
    ]
    return events, malformed


EXPECTED_ACTIONS = {
    "account:e2e-scraper": ["challenge", "block"],
    "account:e2e-newbie": ["challenge", "block"],
    "ip:203.0.113.99": ["challenge", "block"],
}


@pytest.fixture(scope="module")
def outcome(
    broker: EmbeddedBroker, worker: WorkerProcess, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    events, malformed = scenario()
    before = worker.stats()
    path: Path = tmp_path_factory.mktemp("spine") / "events.jsonl"
    path.write_bytes(
        b"\n".join([orjson.dumps(e) for e in events] + [m for m, _ in malformed if b"\n" not in m])
        + b"\n"
    )
    published = subprocess.run(
        [sys.executable, "-m", "stream", "publish", str(path), "--broker", broker.url],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    decisions = TopicReader(broker.address, "decisions")
    deadletter = TopicReader(broker.address, "deadletter")
    want = sum(len(v) for v in EXPECTED_ACTIONS.values())
    mine = {f"account:{e['account_id']}" if e["account_id"] else f"ip:{e['ip']}" for e in events}
    sources = {m for m, _ in malformed}

    def scenario_decisions(rs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [d for d in rs if d["actor"] in mine]

    def scenario_dead(rs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [d for d in rs if base64.b64decode(d["value_b64"] or "") in sources]

    got_decisions = decisions.wait_for(lambda rs: len(scenario_decisions(rs)) >= want)
    got_dead = deadletter.wait_for(lambda rs: len(scenario_dead(rs)) >= len(malformed))
    decisions.close()
    deadletter.close()
    return {
        "events": events,
        "malformed": malformed,
        "decisions": scenario_decisions(got_decisions),
        "deadletter": scenario_dead(got_dead),
        "publish_output": published.stdout,
        "before": before,
    }


def test_publish_reports_what_it_sent(outcome: dict[str, Any]) -> None:
    n = len(outcome["events"]) + len(outcome["malformed"])
    assert f"published {n} messages to requests" in outcome["publish_output"]


def test_exactly_the_expected_actors_are_acted_on_in_order(outcome: dict[str, Any]) -> None:
    by_actor: dict[str, list[str]] = defaultdict(list)
    for d in sorted(outcome["decisions"], key=lambda d: d["ts"]):
        by_actor[d["actor"]].append(d["action"])
    assert dict(by_actor) == EXPECTED_ACTIONS  # no person, no verified crawler


def test_decisions_carry_the_contract(outcome: dict[str, Any]) -> None:
    for d in outcome["decisions"]:
        assert set(d) >= {
            "decision_id",
            "actor",
            "action",
            "reasons",
            "score",
            "model",
            "ttl_s",
            "expires_at",
            "ts",
            "shadow",
        }
        assert d["shadow"] is False and d["model"] == "ensemble@1"
        assert d["expires_at"] == d["ts"] + d["ttl_s"]
        assert d["reasons"] and all(" > " in r for r in d["reasons"])
    assert len({d["decision_id"] for d in outcome["decisions"]}) == len(outcome["decisions"])


def test_scraper_challenged_within_seconds_of_event_time(outcome: dict[str, Any]) -> None:
    scraper = [d for d in outcome["decisions"] if d["actor"] == "account:e2e-scraper"]
    challenge, block = sorted(scraper, key=lambda d: d["ts"])
    # one profile every 3 s with an HTTP library: the model says so at its first scores
    # (5, 10, 20, 40, 80 events and every 5 minutes of event time), and its score acts
    # from the 31st view (90 s in): 30 page gaps at a metronome's rhythm with 20+
    # profiles in the hour ([score] regular_min_profiles_per_hour), below the evidence
    # gates of 50 requests and 40 profiles an hour; the hourly limit would be crossed
    # ~900 s in
    assert 90 <= challenge["ts"] - BASE < 140
    assert challenge["reasons"][0].endswith("with a regular run of pages below the gates")
    assert any(r.startswith("profile_views_after_challenge 101 > 100") for r in block["reasons"])
    newbie = sorted(
        (d for d in outcome["decisions"] if d["actor"] == "account:e2e-newbie"),
        key=lambda d: d["ts"],
    )
    # the new-account limit, or the model's score when it is sure before that (a sure
    # score challenges without a sign: `challenge_alone`); the limit blocks it in any case
    assert newbie[0]["reasons"][0].startswith(("new_account_profiles_per_hour ", "anomaly_score "))
    assert any(r.startswith("new_account_profiles_per_hour ") for r in newbie[-1]["reasons"])
    assert newbie[0]["ts"] - (BASE + 600) <= 60 * 4  # within its first 4 minutes


def test_every_malformed_message_is_dead_lettered_with_reason_and_bytes(
    outcome: dict[str, Any],
) -> None:
    dead = outcome["deadletter"]
    assert len(dead) == len(outcome["malformed"])
    got = sorted((base64.b64decode(d["value_b64"]), d["reason"]) for d in dead)
    assert got == sorted(outcome["malformed"])
    for d in dead:
        assert d["source"]["topic"] == "requests"
        assert d["source"]["partition"] >= 0 and d["source"]["offset"] >= 0
        assert d["detail"]


def test_worker_counted_every_good_event(outcome: dict[str, Any], worker: WorkerProcess) -> None:
    before = outcome["before"]
    health = worker.wait_processed(before["events"] + len(outcome["events"]))
    assert health["events"] - before["events"] == len(outcome["events"])
    assert health["deadlettered"] - before["deadlettered"] == len(outcome["malformed"])
