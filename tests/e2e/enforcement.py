"""Helpers for the enforcement tests: HTTP with headers, the CLI, scraper traffic."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

import orjson
from kafka import KafkaProducer

from stream.harness.embedded_broker import EmbeddedBroker
from tests.e2e.conftest import CONTROL_KEY


def request(
    url: str, headers: dict[str, str] | None = None, method: str = "GET", timeout_s: float = 10
) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def cli(broker: EmbeddedBroker, *args: str) -> str:
    """``scrapeguard ARGS --broker …`` for the e2e app; its standard output."""
    out = subprocess.run(
        [sys.executable, "-m", "stream", *args, "--broker", broker.url],
        # the session's control key: manual decisions are signed with a key derived from it
        env={**os.environ, "SCRAPEGUARD_APP_ID": "e2e", "SCRAPEGUARD_CONTROL_KEY": CONTROL_KEY},
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def new_bouncer(broker: EmbeddedBroker, name: str) -> str:
    """A bouncer key made with the CLI (the key is alone on the last line)."""
    return cli(broker, "bouncers", "add", name).strip().splitlines()[-1]


def scrape(broker: EmbeddedBroker, account: str, profiles: int, ip: str, ts0: float) -> None:
    """``profiles`` distinct profile views by ``account``, 2 s apart in event time."""
    producer = KafkaProducer(bootstrap_servers=broker.address, linger_ms=5)
    for i in range(profiles):
        doc = {
            "event_id": f"{account}-{ts0}-{i}",
            "ts": ts0 + i * 2,
            "account_id": account,
            "ip": ip,
            "user_agent": "python-requests/2.32",
            "path": "/profiles/{id}",
            "status": 200,
            "target_profile_id": f"{account}-person-{i}",
            "fields": ["name"],
        }
        producer.send("requests", orjson.dumps(doc), key=f"account:{account}".encode())
    producer.flush()
    producer.close()


def wait_until(probe: Any, timeout_s: float = 60.0, every_s: float = 0.2) -> Any:
    """``probe()`` until it returns something true; that value."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = probe()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s; last: {got!r}")
        time.sleep(every_s)
