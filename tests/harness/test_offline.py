"""Offline runs (:mod:`stream.harness.offline`) read event times as the worker does:
epoch seconds or ISO-8601 text."""

from datetime import UTC, datetime
from pathlib import Path

import orjson

from models import REGISTRY
from stream.core.policy_loader import load_policy
from stream.harness.offline import OfflineRun, read_events_file

T0 = 1795687200.0  # 2026-11-26T10:00:00Z


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def views(n: int, actor: str) -> list[dict[str, object]]:
    """A bulk scraper's profile views, two a second, the times written as ISO-8601."""
    return [
        {
            "event_id": f"{actor}-{i}",
            "ts": iso(T0 + i / 2),
            "account_id": actor,
            "ip": "198.51.100.7",
            "user_agent": "python-requests/2.32",
            "path": f"/profiles/{1000 + i}",
            "target_profile_id": str(1000 + i),
            "status": 200,
        }
        for i in range(n)
    ]


def test_an_events_file_of_iso_times_is_read_in_time_order(tmp_path: Path) -> None:
    # before, text times all sorted as 0: a file not in time order kept its own order
    events = views(5, "iso")
    mixed = [*reversed(events), {**events[0], "event_id": "epoch", "ts": T0 + 1.25}]
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in mixed))
    got = [e["event_id"] for e in read_events_file(path)]
    assert got == ["iso-0", "iso-1", "iso-2", "epoch", "iso-3", "iso-4"]


def test_an_actor_of_iso_times_has_its_first_event_and_is_acted_on() -> None:
    # before, an actor whose times were text had no first event: no time to first action
    res = OfflineRun(load_policy(), REGISTRY.get("ensemble").spec(), now=T0).run(views(600, "x"))
    assert res.first_seen == {"account:x": T0}
    acted = [d for d in res.decisions if d.actor == "account:x" and d.action != "allow"]
    assert acted and min(d.ts for d in acted) >= T0
