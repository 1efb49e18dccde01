"""simulate → worker (detector + correlator) → evaluate, and replay of a real log."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from stream.harness.embedded_broker import EmbeddedBroker
from stream.harness.worker_process import WorkerProcess

pytestmark = pytest.mark.broker

REAL_LOG = Path(__file__).resolve().parents[1] / "data" / "apache_combined_2015.log"


def cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stream", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )


def test_group_personas_are_caught_through_the_correlator(
    broker: EmbeddedBroker, worker: WorkerProcess, tmp_path: Path
) -> None:
    before = worker.health()
    assert before is not None
    labels = tmp_path / "labels.txt"
    out = cli(
        "simulate",
        "--actors",
        "70",
        "--hours",
        "2",
        "--seed",
        "3",
        "--mix",
        "human=0.4,account_farm=0.2,distributed=0.4",
        "--labels",
        str(labels),
        "--broker",
        broker.url,
    )
    sent = int(re.search(r"published (\d+) events", out.stdout).group(1))  # type: ignore[union-attr]
    worker.wait_processed(before["events"] + sent, timeout_s=120)
    time.sleep(3)  # group signals make one more round trip through Kafka
    report_dir = tmp_path / "report"
    ev = cli("evaluate", "--labels", str(labels), "--out", str(report_dir), "--broker", broker.url)
    assert "| account_farm | 12 | 1.000 |" in ev.stdout
    assert "| distributed | 30 | 1.000 |" in ev.stdout
    assert re.search(r"\| human \| \d+ \| 0/\d+ acted on \|", ev.stdout)
    report = orjson.loads((report_dir / "report.json").read_bytes())
    farm = [a for a in report["actors"] if a["label"] == "account_farm"]
    assert all(a["first_action_s"] is not None for a in farm)
    assert (report_dir / "report.html").stat().st_size > 10_000
    reasons = {
        r
        for d in _decisions(broker)
        if d["actor"] in {a["actor"] for a in farm}
        for r in d["reasons"]
    }
    assert any(r.startswith("accounts_per_ip ") for r in reasons)


def _decisions(broker: EmbeddedBroker) -> list[dict[str, object]]:
    out = cli("decisions", "--json", "--broker", broker.url)
    return [orjson.loads(line) for line in out.stdout.splitlines() if line.strip()]


def test_replay_of_a_real_combined_log(
    broker: EmbeddedBroker, worker: WorkerProcess, tmp_path: Path
) -> None:
    before = worker.health()
    assert before is not None
    out = cli("replay", str(REAL_LOG), "--broker", broker.url)
    assert "10000 lines, 9999 events, 1 unparsable" in out.stdout
    assert "unparsable lines: 8899" in out.stderr
    assert "published 9999 events" in out.stdout
    worker.wait_processed(before["events"] + 9999, timeout_s=120)
