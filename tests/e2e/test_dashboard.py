"""The dashboard in a real headless Chromium (Debian's chromium, driven by Playwright)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import orjson
import pytest
from kafka import KafkaProducer
from playwright.sync_api import expect, sync_playwright

from stream.harness.embedded_broker import EmbeddedBroker
from stream.harness.worker_process import WorkerProcess
from tests.e2e.conftest import API_TOKEN

pytestmark = pytest.mark.broker

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def test_dashboard_shows_decisions_incidents_and_explains(
    broker: EmbeddedBroker, worker: WorkerProcess, session_dir: Path
) -> None:
    assert Path(CHROMIUM).exists(), "Debian's chromium is required (.ci/run installs it)"
    now = time.time()
    before = worker.stats()["events"]
    producer = KafkaProducer(bootstrap_servers=broker.address, linger_ms=5)
    for i in range(250):  # 5 requests a second: over 180 a minute, and a scraping library
        doc = {
            "event_id": f"dash-{i}",
            "ts": now - 60 + i * 0.2,
            "account_id": "dash-scraper",
            "ip": "198.18.0.7",
            "user_agent": "Scrapy/2.11",
            "path": "/profiles/{id}",
            "status": 200,
            "target_profile_id": str(9_000_000 + i),
            "fields": ["name"],
        }
        producer.send("requests", orjson.dumps(doc), key=b"account:dash-scraper")
    producer.flush()
    producer.close()
    worker.wait_processed(before + 250)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"http://127.0.0.1:{worker.web_port}/")
            expect(page).to_have_title("scrapeguard")
            # the worker's API needs its token: the dashboard asks for it in a form
            expect(page.locator("#signin")).to_be_visible(timeout=10_000)
            page.fill("#token", "not-the-token")
            page.click("#signin button")
            page.goto(f"http://127.0.0.1:{worker.web_port}/")
            expect(page.locator("#signin")).to_be_visible(timeout=10_000)
            page.fill("#token", API_TOKEN)
            page.click("#signin button")
            expect(page.locator("#signin")).to_be_hidden(timeout=10_000)
            cookies = page.context.cookies()
            assert cookies and all(c["httpOnly"] and API_TOKEN not in c["value"] for c in cookies)
            expect(page.locator("#timeline rect[data-action='challenge']").first).to_be_visible(
                timeout=15_000
            )
            # the model saw the HTTP-library scraper first; the rules then blocked it
            expect(page.locator("#reasons")).to_contain_text("anomaly_score")
            expect(page.locator("#incidents tr").first).to_be_visible(timeout=15_000)
            expect(page.locator("#scores rect")).to_have_count(20)
            expect(page.locator("#stat-events")).to_contain_text("events:")
            page.fill("#actor", "account:dash-scraper")
            page.click("#explain-form button")
            expect(page.locator("#explain-out")).to_contain_text(
                "In force now: blocked", timeout=10_000
            )
            # the decision history names what fired (the model, ahead of the rate rule)
            expect(page.locator("#explain-out")).to_contain_text("Decision history: challenge")
            expect(page.locator("#explain-out")).to_contain_text("requests in the last minute")
            shot = Path(os.environ.get("SCRAPEGUARD_SCREENSHOT", session_dir / "dashboard.png"))
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 20_000
            # an incident's report opens from the table
            page.locator("#incidents a").first.click()
            expect(page.locator("pre")).to_contain_text("Affected people")
        finally:
            browser.close()
