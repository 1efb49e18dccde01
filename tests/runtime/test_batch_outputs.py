"""What a batch publishes when one of its states does not encode: a tombstone, counted,
and the worker goes on (a stopped worker would meet the state again after every restart).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from structlog.testing import capture_logs

from stream import keys
from stream.core.actor_state import ActorState
from stream.core.batch import BatchResult
from stream.kafka.writer import Publish
from stream.runtime.batch_outputs import add_outcome, state_bytes
from stream.settings import Settings
from tests.helpers import T0


def settings(tmp_path: Path) -> Settings:
    fresh = {name.removeprefix("SCRAPEGUARD_").lower(): v for name, v in keys.generate().items()}
    return Settings(data_dir=tmp_path, **fresh)


def actor(events: int) -> ActorState:
    s = ActorState()
    s.counters.first_ts = s.counters.last_ts = T0
    s.counters.events = events
    return s


def test_a_state_that_does_not_encode_is_tombstoned_and_counted(tmp_path: Path) -> None:
    s = settings(tmp_path)
    out = BatchResult()
    out.changed = {"account:good": actor(3), "account:bad": actor(2**64)}  # past uint64
    plan = Publish()
    with capture_logs() as logs:
        add_outcome(plan, s, 0, out)  # raised struct.error before: the worker stopped
    written = {key: value for _, key, value, _ in plan.state}
    assert written[b"account:bad"] is None and written[b"account:good"]
    assert out.stats["state_unencodable"] == 1
    assert [e["event"] for e in logs] == ["state_unencodable"]
    assert "account:bad" not in str(logs)  # no actor in the log line


def test_state_bytes_encodes_what_encodes() -> None:
    stats: dict[str, Any] = {"state_unencodable": 0}
    assert state_bytes(3, lambda n: bytes([n]), stats, "x") == b"\x03"
    assert state_bytes(300, lambda n: bytes([n]), stats, "x") is None
    assert stats["state_unencodable"] == 1


def _to_agents() -> BatchResult:
    from stream.core.internal_records import Activity, FeedItem

    out = BatchResult()
    out.activities = [Activity("account:a", "192.0.2.7", T0, 3)]
    out.feed = [FeedItem("access", "subnet:192.0.2.0/24", "account:a", T0, profile="p")]
    return out


def test_the_agents_records_are_packed_unless_the_setting_says_not(tmp_path: Path) -> None:
    s = settings(tmp_path)
    plan = Publish()
    add_outcome(plan, s, 0, _to_agents())
    assert plan.results == []
    assert [(topic, key) for topic, key, _ in plan.packed] == [
        (s.incident_feed_topic, b"subnet:192.0.2.0/24"),
        (s.activity_topic, b"192.0.2.0/24"),
    ]
    # rolling over from a version that reads records of one item only
    old = s.model_copy(update={"pack_internal_records": False})
    plan = Publish()
    add_outcome(plan, old, 0, _to_agents())
    assert plan.packed == []
    assert [(topic, key, part) for topic, key, _, part in plan.results] == [
        (s.incident_feed_topic, b"subnet:192.0.2.0/24", None),
        (s.activity_topic, b"192.0.2.0/24", None),
    ]
