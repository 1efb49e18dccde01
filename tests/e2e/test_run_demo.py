"""``scrapeguard run``: worker, demo traffic and the live board, against the session broker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from stream.harness.embedded_broker import EmbeddedBroker, free_port

pytestmark = pytest.mark.broker


def test_run_shows_the_demo_scraper_challenged_then_blocked(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    app = "rundemo"
    env = {
        **os.environ,
        "SCRAPEGUARD_APP_ID": app,
        # its own topics: the session worker must not see the demo, nor the demo it
        "SCRAPEGUARD_TOPIC_REQUESTS": f"{app}-requests",
        "SCRAPEGUARD_TOPIC_DECISIONS": f"{app}-decisions",
        "SCRAPEGUARD_TOPIC_DEADLETTER": f"{app}-deadletter",
        "SCRAPEGUARD_TOPIC_CONTROL": f"{app}-control",
        "SCRAPEGUARD_TOPIC_INCIDENTS": f"{app}-incidents",
        "SCRAPEGUARD_DATA_DIR": str(tmp_path / "data"),
    }
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "stream",
            "run",
            "--duration",
            "40",
            "--broker",
            broker.url,
            "--web-port",
            str(free_port()),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    summary = out.stdout.split("summary:", 1)[1]
    assert "account:demo-scraper-1" in summary and "challenge → block" in summary
    assert "demo-human" not in out.stdout  # people are never acted on
