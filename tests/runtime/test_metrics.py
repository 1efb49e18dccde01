"""The worker's metrics: collectors, lag per group without stale series, batch durations,
error counters from the agents' stats, build info."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition

from stream import __version__
from stream.runtime.lag import detector_lags, faust_lags
from stream.runtime.metrics import Metrics
from tests.kafka.fakes import FakeConsumer, FakeWriter, Rec
from tests.kafka.test_batch_consumer import Echo


def value(m: Metrics, name: str, **labels: str) -> float | None:
    return m.registry.get_sample_value(name, labels)


def test_process_gc_platform_and_build_info_are_exposed() -> None:
    m = Metrics()
    assert value(m, "process_resident_memory_bytes")  # > 0 on Linux
    assert value(m, "python_gc_collections_total", generation="0") is not None
    assert "python_info{" in m.render().decode()
    assert value(m, "scrapeguard_build_info", version=__version__) == 1.0


def test_lag_of_revoked_partitions_is_removed() -> None:
    m = Metrics()
    lag = m.lag_of("g-detector")
    lag.update({("requests", 0): 5, ("requests", 1): 3})
    name = "scrapeguard_consumer_lag_records"
    assert value(m, name, group="g-detector", topic="requests", partition="0") == 5
    lag.update({("requests", 1): 0})  # partition 0 revoked
    assert value(m, name, group="g-detector", topic="requests", partition="0") is None
    assert value(m, name, group="g-detector", topic="requests", partition="1") == 0
    m.lag_of("g").update({("activity", 0): 7})  # another group keeps its own series
    assert value(m, name, group="g-detector", topic="requests", partition="1") == 0
    assert value(m, name, group="g", topic="activity", partition="0") == 7


@dataclass
class Highwaters(FakeConsumer):
    ends: dict[TopicPartition, int] = field(default_factory=dict)

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.ends.get(tp)


def test_detector_lag_is_end_offset_minus_committed_position() -> None:
    a, b, c = (TopicPartition("requests", p) for p in range(3))
    consumer = Highwaters(assigned={a, b, c}, ends={a: 100, b: 50})
    # c: no end offset known yet; b: nothing committed yet → both left out, not 0
    assert detector_lags(consumer, {a: 60, c: 3}) == {("requests", 0): 40}
    assert detector_lags(None, {}) == {}


@dataclass
class FaustConsumer:
    assigned: set[TopicPartition]
    ends: dict[TopicPartition, int]
    _committed_offset: dict[TopicPartition, int | None]
    _read_offset: dict[TopicPartition, int | None]
    started: bool = True

    def assignment(self) -> set[TopicPartition]:
        if not self.started:
            raise RuntimeError("consumer not started")
        return self.assigned

    def highwater(self, tp: TopicPartition) -> int:
        return self.ends[tp]


def test_faust_lag_uses_the_committed_offset_then_the_read_position() -> None:
    a, b, c = (TopicPartition("feed", p) for p in range(3))
    consumer = FaustConsumer({a, b, c}, {a: 10, b: 10, c: 10}, {a: 4}, {b: 7})
    assert faust_lags(consumer) == {("feed", 0): 6, ("feed", 1): 2}  # c: position unknown
    consumer.started = False
    assert faust_lags(consumer) == {}


def test_counters_alerts_rely_on_exist_before_anything_happens() -> None:
    """A series that first appears at 1 hides that increment from increase()."""
    m = Metrics()
    m.stats.agents["detector"] = Counter()
    assert value(m, "scrapeguard_control_messages_total", outcome="refused") == 0
    assert value(m, "scrapeguard_model_snapshots_total", outcome="refused") == 0
    assert value(m, "scrapeguard_produce_errors_total", agent="detector") == 0
    assert value(m, "scrapeguard_commit_errors_total", agent="detector") == 0


def test_agent_stats_become_produce_commit_control_and_snapshot_counters() -> None:
    m = Metrics()
    detector: Counter[str] = Counter(publish_results_errors=2, publish_state_errors=1)
    detector["commit_errors"] = 4
    m.stats.agents["detector"] = detector
    m.stats.agents["correlator"] = Counter(publish_results_errors=1, records=10)
    m.stats.models = Counter(
        control_applied_deploy=1, control_refused_bad_signature=2, snapshot_refused=3
    )
    assert value(m, "scrapeguard_produce_errors_total", agent="detector") == 3
    assert value(m, "scrapeguard_commit_errors_total", agent="detector") == 4
    assert value(m, "scrapeguard_produce_errors_total", agent="correlator") == 1
    assert value(m, "scrapeguard_control_messages_total", outcome="refused") == 2
    assert value(m, "scrapeguard_control_refusals_total", reason="bad_signature") == 2
    assert value(m, "scrapeguard_control_messages_total", outcome="applied") == 1
    assert value(m, "scrapeguard_model_snapshots_total", outcome="refused") == 3
    detector["commit_errors"] += 1  # read when scraped: no second place to count
    assert value(m, "scrapeguard_commit_errors_total", agent="detector") == 5


class Timed(Echo):
    def __init__(self, metrics: Metrics, *args: Any) -> None:
        super().__init__(*args)
        self.metrics = metrics

    def observe_batch(self, duration_s: float) -> None:
        self.metrics.batch_duration.labels(self.name).observe(duration_s)


def test_each_committed_batch_is_timed() -> None:
    m = Metrics()
    agent = Timed(m, {0}, FakeWriter())
    agent.consumer = FakeConsumer()
    tp0 = TopicPartition("requests", 0)
    batch: dict[TopicPartition, list[Any]] = {
        tp0: [Rec("requests", 0, o, b"a", b"x") for o in range(3)]
    }
    asyncio.run(agent.process(batch))
    asyncio.run(agent.process({tp0: [Rec("requests", 0, 3, b"a", b"x")]}))
    assert value(m, "scrapeguard_batch_duration_seconds_count", agent="echo") == 2
    total = value(m, "scrapeguard_batch_duration_seconds_sum", agent="echo")
    assert total is not None and 0 < total < 5
