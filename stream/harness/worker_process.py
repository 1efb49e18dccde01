"""A scrapeguard worker as a child process (stress harness, chaos runs, tests)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from stream.kafka.read_to_end import read_all
from stream.settings import Settings


class WorkerProcess:
    """``python -m stream worker`` with extra environment; readiness from ``/health``."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.web_port = int(env["SCRAPEGUARD_WEB_PORT"])
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 90.0) -> None:
        self.spawn()
        self.wait_ready(timeout_s)

    def spawn(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "stream", "worker"],
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    def wait_ready(self, timeout_s: float = 90.0) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._check_alive()
            health = self.health()
            if health and health.get("ready"):
                return
            time.sleep(0.1)  # restarts are timed to ready: poll finely
        raise RuntimeError("worker not ready in time; log: " + self.log_path.read_text()[-3000:])

    def health(self) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.web_port}/health", timeout=2
            ) as resp:
                return orjson.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return orjson.loads(exc.read())
        except (OSError, ValueError):
            return None

    def _check_alive(self) -> None:
        """RuntimeError, with the end of its log, when the worker has exited."""
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(
                f"worker exited ({self.proc.returncode}); log: " + self.log_path.read_text()[-3000:]
            )

    def stats(self, timeout_s: float = 30.0) -> dict[str, Any]:
        """``/health``, asked until it answers: a busy worker (a batch beside the event
        loop, a loaded machine) may take longer than one request's 2 s."""
        deadline = time.monotonic() + timeout_s
        while True:
            self._check_alive()
            health = self.health()
            if health is not None:
                return health
            if time.monotonic() > deadline:
                raise RuntimeError(f"worker's /health did not answer in {timeout_s:g}s")
            time.sleep(0.2)

    def wait_processed(self, events: int, timeout_s: float = 60.0) -> dict[str, Any]:
        """Until the worker has counted at least ``events`` events (since it started)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._check_alive()
            h = self.health()
            if h and h.get("events", 0) >= events:
                return h
            time.sleep(0.2)
        raise AssertionError(f"worker processed {self.health()} < {events} events in time")

    def wait_settled(self, settings: Settings, timeout_s: float = 300.0) -> dict[str, Any]:
        """:func:`wait_settled` for this worker alone; returns its ``/health``."""
        return wait_settled(settings, lambda: [self.health() or {}], timeout_s)[0]

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 30.0) -> int:
        proc, self.proc = self.proc, None
        if proc is None:
            return 0
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode


def wait_settled(
    settings: Settings,
    healths: Callable[[], list[dict[str, Any]]],
    timeout_s: float = 300.0,
    poll_s: float = 0.5,
) -> list[dict[str, Any]]:
    """Until every stage has consumed what the stage before it produced — activity →
    correlator → group signals → detector, and feed → incidents — twice in a row, over
    the workers whose ``/health`` ``healths()`` returns; returns those.

    What a stage produced is counted on its topic (records, packs counted as one), read
    to its true end; what the next stage consumed is the sum of the workers' ``pipeline``.
    """
    topics = {
        "activities": settings.activity_topic,
        "group_signals": settings.signals_topic,
        "feed_items": settings.incident_feed_topic,
    }
    deadline = time.monotonic() + timeout_s
    settled = 0
    while time.monotonic() < deadline:
        produced = {k: len(read_all(settings, t)) for k, t in topics.items()}
        hs = healths()
        consumed = {k: sum(h.get("pipeline", {}).get(k, 0) for h in hs) for k in topics}
        if all(consumed[k] >= n for k, n in produced.items()):
            settled += 1
            if settled == 2:
                return hs
        else:
            settled = 0
        time.sleep(poll_s)
    raise AssertionError(f"the pipeline did not settle in time: {healths()}")
