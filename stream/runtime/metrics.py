"""Prometheus metrics of a worker (prometheus-client), on its own registry."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

if TYPE_CHECKING:
    from stream.core.partition_detector import Outcome


def reason_code(reason: str) -> str:
    """``profiles_per_hour 412 > 300`` → ``profiles_per_hour`` (bounded label values)."""
    return reason.split(" ", 1)[0][:48] if reason else "none"


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.events = Counter("scrapeguard_events", "Request events counted", registry=r)
        self.deadletter = Counter(
            "scrapeguard_deadletter", "Messages dead-lettered", ["reason"], registry=r
        )
        self.decisions = Counter(
            "scrapeguard_decisions",
            "Decisions published",
            ["action", "reason", "shadow"],
            registry=r,
        )
        self.latency = Histogram(
            "scrapeguard_event_to_decision_seconds",
            "Publish time of the triggering event to the decision being published",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.scores = Histogram(
            "scrapeguard_score",
            "Calibrated model scores",
            ["slot"],
            buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 0.995, 1.0),
            registry=r,
        )
        self.lag = Gauge(
            "scrapeguard_consumer_lag",
            "Records not yet consumed",
            ["group", "topic", "partition"],
            registry=r,
        )
        self.active_actors = Gauge("scrapeguard_active_actors", "Actors with state", registry=r)
        self.open_incidents = Gauge("scrapeguard_open_incidents", "Open incidents", registry=r)
        self.model = Gauge(
            "scrapeguard_model_info", "Model in each slot", ["slot", "model"], registry=r
        )
        self.control = Counter(
            "scrapeguard_control_messages", "Control messages", ["outcome"], registry=r
        )

    def observe(self, out: Outcome, now: float | None = None) -> None:
        now = time.time() if now is None else now
        stats = out.stats
        if stats.get("events"):
            self.events.inc(stats["events"])
        for key, n in stats.items():
            if key.startswith("dead_"):
                self.deadletter.labels(key[5:]).inc(n)
        for d, record_ts in out.latency_marks:
            self.decisions.labels(
                d.action, reason_code(d.reasons[0] if d.reasons else ""), str(d.shadow).lower()
            ).inc()
            if record_ts:
                self.latency.observe(max(0.0, now - record_ts / 1000.0))
        for sc in out.scores:
            self.scores.labels(sc.slot).observe(sc.score)

    def render(self) -> bytes:
        return generate_latest(self.registry)
