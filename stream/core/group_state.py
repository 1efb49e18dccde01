"""One correlation group's state: the distinct accounts and the profile views of an IP
or a subnet over the last hour, which of its accounts it has signalled and what it told
them (:class:`GroupState`); an address's logged-out sessions, their views with new
sessions' apart (:class:`SessionGroup`, a few hundred bytes: there may be tens of
thousands). Their changelog codecs (JSON; total, like every decoder, and bounded: a
record read back can never make the correlator fail). :mod:`stream.core.correlation`
keeps the groups of a partition, restores them by their keys, and decides the signals.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from stream.core.internal_records import Activity
from stream.core.records import MAX_TS, in_time_range
from stream.core.windows import DistinctSpec, SlidingCounter, SlidingDistinct, keyed_hash

ACCOUNTS: DistinctSpec = DistinctSpec(slots=60, slot_s=60.0, exact_max=64, bits=512)
MAX_RECENT = 256  # members remembered by name per group, to signal all of them


class GroupState:
    """Distinct accounts and profile views of one IP or subnet over the last hour."""

    __slots__ = (
        "accounts",
        "flagged",
        "last_ts",
        "recent",
        "scores",
        "signalled",
        "told",
        "turned_ts",
        "views",
    )

    def __init__(self) -> None:
        self.accounts = SlidingDistinct(ACCOUNTS)
        self.views = SlidingCounter(60, 60.0, channels=1, typecode="I")
        self.recent: dict[str, float] = {}
        # actor -> its latest score, for the accounts of ``recent`` whose latest activity
        # had evidence of its own
        self.scores: dict[str, float] = {}
        self.signalled: dict[str, float] = {}  # actor -> expiry of its last signal
        self.last_ts = 0.0
        self.flagged = False
        # (high, evidenced) as last signalled: whether the group is "mostly high" for its
        # members (``[groups] member_share_alone``), and what every signal says while
        # the group's evidence has turned but may not turn yet (TURN_MIN_S), so that no
        # member is told otherwise than the rest
        self.told = (0, 0)
        self.turned_ts = 0.0  # event time of the last turn

    def add(self, act: Activity) -> None:
        self.accounts.add(keyed_hash(act.actor), act.ts)  # names an attacker may pick
        self.views.add(act.ts, (act.views,))
        if act.ts > self.last_ts:
            self.last_ts = act.ts
        recent = self.recent
        if act.actor in recent:
            if act.ts < recent[act.actor]:
                return  # an older activity says nothing newer of the account
        elif len(recent) >= MAX_RECENT:
            oldest = min(recent, key=recent.__getitem__)
            del recent[oldest]
            self.scores.pop(oldest, None)
        recent[act.actor] = act.ts
        if act.evidenced:
            self.scores[act.actor] = act.score
        else:
            self.scores.pop(act.actor, None)

    def evidence(self, min_score: float, since: float) -> tuple[int, int]:
        """Of the accounts seen after ``since`` with evidence of their own: how many score
        ``min_score`` or more, and how many there are."""
        high = evidenced = 0
        recent = self.recent
        for actor, score in self.scores.items():
            if recent.get(actor, 0.0) > since:
                evidenced += 1
                high += score >= min_score
        return high, evidenced

    @property
    def accounts_per_hour(self) -> int:
        return round(self.accounts.estimate())

    @property
    def views_per_hour(self) -> int:
        return self.views.total()

    def encode(self) -> bytes:
        head, sweep, members, stamps = self.accounts.dump()
        return orjson.dumps(
            {
                "d": [head, sweep, members.hex(), stamps.hex() if stamps is not None else None],
                "vh": self.views.head,
                "vr": list(self.views.ring),
                "r": self.recent,
                "sc": self.scores,
                "s": self.signalled,
                "t": self.last_ts,
                "f": self.flagged,
                "tt": self.turned_ts,
                "tl": list(self.told),
            }
        )

    @classmethod
    def decode(cls, raw: bytes) -> GroupState:
        return _decoded(raw, cls.from_dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GroupState:
        g = cls()
        head, sweep, members, stamps = d["d"]
        g.accounts = SlidingDistinct.load(
            ACCOUNTS,
            int(head),
            int(sweep),
            bytes.fromhex(members),
            bytes.fromhex(stamps) if stamps is not None else None,
        )
        g.views.head = _head(d["vh"])
        for i, v in enumerate(d["vr"]):
            g.views.ring[i] = int(v)
        g.views.totals = [sum(g.views.ring)]
        g.recent = {str(k): float(v) for k, v in d["r"].items()}
        g.signalled = {str(k): float(v) for k, v in d["s"].items()}
        g.last_ts, g.flagged = _time(d["t"]), bool(d["f"])
        # a state written before scores were carried has none of these
        g.scores = {str(k): float(v) for k, v in d.get("sc", {}).items() if k in g.recent}
        g.turned_ts = _time(d.get("tt", 0.0))
        high, evidenced = d.get("tl", (0, 0))
        g.told = (int(high), int(evidenced))
        if not (
            all(0.0 <= v <= 1.0 for v in g.scores.values())
            and 0 <= g.told[0] < 2**31
            and 0 <= g.told[1] < 2**31
        ):
            raise ValueError("evidence out of range")
        return g


class SessionGroup:
    """An address's (an IPv6 /64's) logged-out sessions under one tenant: their profile
    views over the last hour, new sessions' apart, and the signal to the address."""

    __slots__ = ("fresh_block", "fresh_until", "last_ts", "views")

    def __init__(self) -> None:
        # per minute: (views of new sessions, views of all sessions)
        self.views = SlidingCounter(60, 60.0, channels=2, typecode="I")
        self.last_ts = 0.0
        self.fresh_until = 0.0  # when its signal to the address ends
        self.fresh_block = False  # whether that signal asked for a block

    def add_session(self, act: Activity) -> None:
        """A session's activity: its views (of a new session, apart)."""
        self.views.add(act.ts, (act.views if act.fresh else 0, act.views))
        if act.ts > self.last_ts:
            self.last_ts = act.ts

    @property
    def fresh_views_per_hour(self) -> int:
        """Profile views of new sessions (in their first requests,
        :data:`~stream.core.internal_records.FRESH_MAX_EVENTS`), in the hour."""
        return self.views.total(0)

    @property
    def session_views_per_hour(self) -> int:
        """Profile views of sessions (new or not), in the hour."""
        return self.views.total(1)

    def encode(self) -> bytes:
        views = self.views
        return orjson.dumps(
            {
                "t": self.last_ts,
                "fh": views.head,
                "fr": list(views.ring),
                "fu": self.fresh_until,
                "fb": self.fresh_block,
            }
        )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SessionGroup:
        """Read the fields of its own (a state written as a whole group has them too)."""
        g = cls()
        views = g.views
        views.head = _head(d["fh"])
        ring = [int(v) for v in d["fr"]]
        if len(ring) != len(views.ring):
            raise ValueError("new sessions' ring of another size")
        for i, v in enumerate(ring):
            views.ring[i] = v  # an array of unsigned 32-bit counts: refuses the rest
        views.totals = [sum(ring[0::2]), sum(ring[1::2])]
        g.last_ts, g.fresh_until = _time(d["t"]), _time(d["fu"])
        g.fresh_block = bool(d["fb"])
        return g

    @classmethod
    def decode(cls, raw: bytes) -> SessionGroup:
        return _decoded(raw, cls.from_dict)


def _time(v: Any) -> float:
    return in_time_range(float(v), "group state")


def _head(v: Any) -> int:
    head = int(v)
    if not -1 <= head < MAX_TS / 60.0:  # a minute of the times above, or none yet
        raise ValueError(f"counter head out of range: {head!r}")
    return head


def _decoded(raw: bytes, read: Callable[[dict[str, Any]], Any]) -> Any:
    try:
        d = orjson.loads(raw)
        if not isinstance(d, dict):
            raise TypeError("not an object")
        return read(d)
    except (
        KeyError,
        TypeError,
        ValueError,
        IndexError,
        AttributeError,
        OverflowError,
        orjson.JSONDecodeError,
    ) as exc:
        raise ValueError(f"malformed group state: {type(exc).__name__}: {exc}") from None
