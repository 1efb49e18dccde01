"""A small chaos run in the suite (`make chaos` is the large one).

Crashes, a 2 → 1 → 2 rebalance, a broker outage, bad input; then the from-scratch audit.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from stream.harness.chaos import Chaos
from stream.harness.embedded_broker import EmbeddedBroker
from stream.settings import Settings

pytestmark = pytest.mark.broker


def test_no_event_is_lost_or_counted_twice(broker: EmbeddedBroker, tmp_path: Path) -> None:
    app = f"chaostest{int(time.time())}"
    # its own topics: the session worker's traffic must not reach this audit
    settings = Settings(
        broker=broker.url,
        app_id=app,
        topic_requests=f"{app}-requests",
        topic_decisions=f"{app}-decisions",
        topic_deadletter=f"{app}-deadletter",
        topic_control=f"{app}-control",
        topic_incidents=f"{app}-incidents",
    )
    report = Chaos(
        settings,
        tmp_path,
        trials=2,
        events=2500,
        malformed=3000,
        seed=11,
        broker=broker,
        outage_s=12.0,
        log=lambda line: None,
    ).run()
    a = report.audit
    assert a is not None, "no audit"
    assert report.trials == 2 and report.rebalances == 3 and report.outages == 1
    assert a.unaccounted == 0 and a.double_counted == 0, a.examples
    assert a.counter_mismatches == 0, a.examples
    assert a.malformed_dead_lettered == 3000
    assert a.decisions_expected > 0 and a.decisions_missing == 0
    assert a.decisions_unexpected == 0 and a.decision_id_conflicts == 0
    assert report.line().endswith("unaccounted=0 double_counted=0")
