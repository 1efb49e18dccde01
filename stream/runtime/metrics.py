"""Prometheus metrics of a worker (prometheus-client), on its own registry.

Besides scrapeguard's own series, the registry carries prometheus-client's process, GC
and platform collectors (``process_*``, ``python_gc_*``, ``python_info``) and
``scrapeguard_build_info{version}``. Counters the agents keep in their ``stats``
(produce and commit errors, control messages, snapshots) are read when scraped
(:class:`StatsCollector`), so they count exactly what the agents counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from stream import __version__

if TYPE_CHECKING:
    from stream.core.batch import BatchResult

BATCH_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


def reason_code(reason: str) -> str:
    """``profiles_per_hour 412 > 300`` → ``profiles_per_hour`` (bounded label values)."""
    return reason.split(" ", 1)[0][:48] if reason else "none"


def _produce_error(stat: str) -> bool:
    return stat.startswith("publish_") and stat.endswith("_errors")


class StatsCollector(Collector):
    """Counters the agents keep in ``stats`` (``collections.Counter``), read at scrape time.

    * ``scrapeguard_produce_errors_total{agent}``: failed produce attempts
      (``publish_*_errors``; each is retried, and the last one stops the worker);
    * ``scrapeguard_commit_errors_total{agent}``: failed offset commits of the detector's
      group (Faust commits its own group's offsets and does not report failures);
    * ``scrapeguard_control_messages_total{outcome}``: ``applied`` or ``refused``, and
      ``scrapeguard_control_refusals_total{reason}`` (``bad_signature``, ``unknown_model``, …);
    * ``scrapeguard_model_snapshots_total{outcome}``: ``written``, ``restored``, ``refused``.
    """

    def __init__(self) -> None:
        self.agents: dict[str, Mapping[str, int]] = {}
        self.models: Mapping[str, int] = {}

    def collect(self) -> Iterator[Metric]:
        produce = CounterMetricFamily(
            "scrapeguard_produce_errors", "Failed produce attempts (retried)", labels=["agent"]
        )
        commit = CounterMetricFamily(
            "scrapeguard_commit_errors", "Failed offset commits (retried)", labels=["agent"]
        )
        for agent, stats in sorted(self.agents.items()):
            produce.add_metric([agent], sum(n for k, n in stats.items() if _produce_error(k)))
            commit.add_metric([agent], stats.get("commit_errors", 0))
        control = CounterMetricFamily(
            "scrapeguard_control_messages", "Control messages by outcome", labels=["outcome"]
        )
        refusals = CounterMetricFamily(
            "scrapeguard_control_refusals", "Control messages refused, by reason", labels=["reason"]
        )
        for outcome in ("applied", "refused"):  # both always present, so increase() works
            prefix = f"control_{outcome}_"
            control.add_metric(
                [outcome], sum(n for k, n in self.models.items() if k.startswith(prefix))
            )
        for key, n in sorted(self.models.items()):
            if key.startswith("control_refused_"):
                refusals.add_metric([key.removeprefix("control_refused_")], n)
        snapshots = CounterMetricFamily(
            "scrapeguard_model_snapshots", "Model snapshots by outcome", labels=["outcome"]
        )
        for outcome in ("written", "restored", "refused"):
            key = "snapshots_written" if outcome == "written" else f"snapshot_{outcome}"
            snapshots.add_metric([outcome], self.models.get(key, 0))
        yield from (produce, commit, control, refusals, snapshots)


class LagSeries:
    """``scrapeguard_consumer_lag_records`` of one consumer group.

    Each update sets the lag of the partitions the group holds now and removes the
    series of partitions it no longer holds (revoked), so no stale lag stays behind.
    """

    def __init__(self, gauge: Gauge, group: str) -> None:
        self.gauge = gauge
        self.group = group
        self._shown: set[tuple[str, str]] = set()

    def update(self, lags: Mapping[tuple[str, int], int]) -> None:
        now = {(topic, str(partition)) for topic, partition in lags}
        for topic, label in self._shown - now:
            self.gauge.remove(self.group, topic, label)
        for (topic, partition), lag in lags.items():
            self.gauge.labels(self.group, topic, str(partition)).set(max(0, lag))
        self._shown = now


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        ProcessCollector(registry=r)
        GCCollector(registry=r)
        PlatformCollector(registry=r)
        Info("scrapeguard_build", "Version of scrapeguard", registry=r).info(
            {"version": __version__}
        )
        self.stats = StatsCollector()
        r.register(self.stats)
        self.events = Counter("scrapeguard_events", "Request events counted", registry=r)
        self.deadletter = Counter(
            "scrapeguard_deadletter", "Messages dead-lettered", ["reason"], registry=r
        )
        self.outcomes = Counter(
            "scrapeguard_outcomes",
            "Outcomes (labels) by kind; learned_live / learned_shadow: taught to a model; "
            "repeated, bot_verdict_kept, no_evidence, over_budget, unknown_actor: not taught",
            ["kind"],
            registry=r,
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
        self.batch_duration = Histogram(
            "scrapeguard_batch_duration_seconds",
            "One micro-batch: handled, published and (detector) committed",
            ["agent"],
            buckets=BATCH_BUCKETS_S,
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
            "scrapeguard_consumer_lag_records",
            "Records of a partition not yet consumed (end offset - committed or read position)",
            ["group", "topic", "partition"],
            registry=r,
        )
        self._lag_groups: dict[str, LagSeries] = {}
        self.active_actors = Gauge("scrapeguard_active_actors", "Actors with state", registry=r)
        self.open_incidents = Gauge("scrapeguard_open_incidents", "Open incidents", registry=r)
        self.model = Gauge(
            "scrapeguard_model_info", "Model in each slot", ["slot", "model"], registry=r
        )

    def lag_of(self, group: str) -> LagSeries:
        if group not in self._lag_groups:
            self._lag_groups[group] = LagSeries(self.lag, group)
        return self._lag_groups[group]

    def observe(self, out: BatchResult, now: float | None = None) -> None:
        now = time.time() if now is None else now
        stats = out.stats
        if stats.get("events"):
            self.events.inc(stats["events"])
        for key, n in stats.items():
            if key.startswith("dead_"):
                self.deadletter.labels(key[5:]).inc(n)
            elif key.startswith("outcome_"):
                self.outcomes.labels(key[8:]).inc(n)
        for d, record_ts in out.latency_marks:
            self.decisions.labels(
                d.action, reason_code(d.reasons[0] if d.reasons else ""), str(d.shadow).lower()
            ).inc()
            if record_ts:
                self.latency.observe(max(0.0, now - record_ts / 1000.0))
        for sc in out.scores:
            self.scores.labels(sc.slot).observe(sc.score)

    def watch_evictions(self, source: Callable[[], Mapping[str, int]]) -> None:
        """Export ``scrapeguard_state_evictions_total{kind}``: what each bound on state
        (actors, correlation groups, incident buffers, the global view …) dropped."""
        self.registry.register(
            _Counts("scrapeguard_state_evictions", "State dropped by a bound, by kind", source)
        )

    def watch_skipped(self, source: Callable[[], Mapping[str, int]]) -> None:
        """Export ``scrapeguard_records_skipped_total{kind}``: records of internal topics
        (group signals, activities, feed items, members, control messages, snapshots …)
        that could not be used and were skipped — never a stopped partition."""
        self.registry.register(
            _Counts(
                "scrapeguard_records_skipped",
                "Records of internal topics refused or skipped, by kind",
                source,
            )
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _Counts(Collector):
    """A labelled counter whose values some component keeps (read at scrape time)."""

    def __init__(
        self, name: str, documentation: str, source: Callable[[], Mapping[str, int]]
    ) -> None:
        self.name, self.documentation, self.source = name, documentation, source

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(self.name, self.documentation, labels=["kind"])
        for kind, n in sorted(self.source().items()):
            family.add_metric([kind], float(n))
        yield family
