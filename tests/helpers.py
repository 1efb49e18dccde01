"""Small builders shared by the tests (events, records)."""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

T0 = 1_780_000_000.0  # 2026-05-28T20:26:40Z, a fixed event-time origin

# the shared real Apache log (tests/data/README.md)
REAL_LOG = Path(__file__).resolve().parent / "data" / "apache_combined_2015.log"


def write_log(tmp_path: Path, lines: list[str], gz: bool = False) -> Path:
    """``lines`` as a log file in ``tmp_path`` (gzip-compressed with ``gz``)."""
    text = "".join(line + "\n" for line in lines)
    if gz:
        f = tmp_path / "log.gz"
        f.write_bytes(gzip.compress(text.encode()))
    else:
        f = tmp_path / "access.log"
        f.write_text(text)
    return f


def real_log_events() -> list[dict[str, Any]]:
    """The request events of :data:`REAL_LOG`, in file order, as ``replay`` reads the
    combined log: the reference other formats of the same requests must give again."""
    from stream.harness.access_log import LogParser

    text = REAL_LOG.read_text(encoding="utf-8", errors="replace")
    return list(LogParser().events(io.StringIO(text)))


@dataclass
class Rec:
    """Stands in for a Kafka record in pure pipeline tests."""

    offset: int
    key: bytes | None
    value: bytes | None


def event(i: int = 0, ts: float = T0, account: str | None = "alice", **over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "event_id": f"e{i}",
        "ts": ts,
        "account_id": account,
        "session_id": None,
        "ip": "198.51.100.7",
        "user_agent": "Mozilla/5.0",
        "method": "GET",
        "path": "/profiles/{id}",
        "status": 200,
        "target_profile_id": None,
    }
    doc.update(over)
    return doc


def rec(offset: int, doc: dict[str, Any] | bytes, key: bytes | str | None = "auto") -> Rec:
    value = doc if isinstance(doc, bytes) else orjson.dumps(doc)
    if key == "auto":
        assert isinstance(doc, dict)
        key_b: bytes | None = f"account:{doc['account_id']}".encode()
    elif isinstance(key, str):
        key_b = key.encode()
    else:
        key_b = key
    return Rec(offset, key_b, value)


def actor_state(ts: float, views: int = 3) -> Any:
    """An actor's state after ``views`` profile views, a second apart from ``ts``."""
    from stream.core.actor_state import ActorState
    from stream.core.records import RequestEvent
    from stream.core.validation import validate

    s = ActorState()
    for i in range(views):
        doc = event(i, ts + i, target_profile_id=str(100 + i))
        ev = validate(orjson.dumps(doc), now=ts + 3600)
        assert isinstance(ev, RequestEvent)
        s.apply(ev, i)
    return s


def group_member(score: float, ts: float = T0, views: int = 10) -> Any:
    """An account with evidence of its own for a group signal at ``ts``: ``views``
    profile views in the minute before it ([groups] member_min_profiles_per_hour), a
    model score and a sign of automation (an HTTP library's user agent), which a member
    scoring under [score] challenge_alone needs as well (Policy.member_reason)."""
    from stream.core.actor_state import ActorState
    from stream.core.records import RequestEvent

    state = ActorState()
    for i in range(views):
        view = RequestEvent(
            f"m{i}", ts - 60 + i, "account:m", "m", None, "198.51.100.7",
            "python-requests/2.32", "GET", "/profiles/{id}", 200, f"p{i}",
        )  # fmt: skip
        state.apply(view, i)
    state.score = score
    return state


def profile_walk(
    profiles: int, minutes: float = 50.0, created: float | None = None, irregular: bool = False
) -> Any:
    """An account viewing one profile after the other over ``minutes``: evenly spaced, or
    ``irregular`` (log-normal gaps, as a person clicks) over the same span."""
    import random

    from stream.core.actor_state import ActorState
    from stream.core.records import RequestEvent

    s = ActorState()
    rng = random.Random(7)
    gaps = [rng.lognormvariate(0.0, 1.0) if irregular else 1.0 for _ in range(profiles)]
    scale = minutes * 60 / max(sum(gaps), 1e-9)
    ts = T0
    for i in range(profiles):
        ts += gaps[i] * scale if i else 0.0
        s.apply(
            RequestEvent(f"e{i}", ts, "account:a", "a", None, None, "", "GET",
                         "/profiles/{id}", 200, f"p{i}", created),
            i,
        )  # fmt: skip
    return s


def crawler(
    profiles: int,
    user_agent: str = "Mozilla/5.0",
    robots: bool = True,
    minutes: float = 5.0,
    irregular: bool = False,
) -> Any:
    """An IP-keyed crawler: robots.txt first (or not), then one profile every ``minutes``
    (12 an hour by default: far under the gates; ``irregular``: log-normal gaps of that
    mean, as a person clicks), no assets, no referrer."""
    import random

    from stream.core.actor_state import ActorState
    from stream.core.records import RequestEvent

    s, ts = ActorState(), T0
    if robots:
        s.apply(
            RequestEvent("r", ts, "ip:192.0.2.9", None, None, "192.0.2.9", user_agent, "GET",
                         "/robots.txt", 200, referrer=""),
            0,
        )  # fmt: skip
    rng = random.Random(7)
    for i in range(profiles):
        ts += minutes * 60.0 * (rng.lognormvariate(-0.5, 1.0) if irregular else 1.0)
        s.apply(
            RequestEvent(f"e{i}", ts, "ip:192.0.2.9", None, None, "192.0.2.9", user_agent,
                         "GET", "/profiles/{id}", 200, f"p{i}", referrer=""),
            i + 1,
        )  # fmt: skip
    s.score = 0.9
    return s
