"""Everything scrapeguard remembers about one actor: what it measured of it
(volumes: :class:`~stream.core.counters.ActorCounters`; how it browses:
:class:`~stream.core.behaviour.Behaviour`), what it decided about it
(:class:`~stream.core.enforcement.Enforcement`), the newest group signal from the
correlator, its latest model score, the last offset it counted (to skip re-deliveries
after a crash) and a cache of the allowlist verdict. The binary form for the changelog
is :mod:`stream.core.actor_codec`.
"""

from __future__ import annotations

from stream.core.behaviour import PAGE, PROFILE, Behaviour
from stream.core.counters import ActorCounters
from stream.core.enforcement import Enforcement
from stream.core.records import RequestEvent

VERDICT_NONE, VERDICT_HUMAN, VERDICT_BOT = 0, 1, 2  # what outcomes (labels) said


class ActorState:
    __slots__ = (
        "allow_sig",
        "allowlisted",
        "behaviour",
        "counters",
        "enforcement",
        "group_expires",
        "group_reason",
        "group_share",
        "last_offset",
        "next_score_ts",
        "score",
        "verdict",
    )

    def __init__(self) -> None:
        self.counters = ActorCounters()
        self.behaviour = Behaviour()
        self.enforcement = Enforcement()
        self.group_reason = ""  # e.g. "accounts_per_subnet 37 > 20 (203.0.113.0/24)"
        self.group_expires = 0.0
        self.group_share = 0.0  # of the group's accounts, the share that scores high
        self.score = 0.0
        self.next_score_ts = 0.0  # event time the actor is next due for a score
        self.verdict = VERDICT_NONE
        self.last_offset = -1
        self.allowlisted = False
        self.allow_sig = 0  # hash of (policy, ip, user agent) the allowlist verdict is for

    @property
    def last_ts(self) -> float:
        """Newest event time of the actor."""
        return self.counters.last_ts

    def too_late(self, ts: float) -> bool:
        """True when ``ts`` is older than every window this state keeps (the day)."""
        return self.counters.too_late(ts)

    def apply(self, ev: RequestEvent, offset: int) -> int:
        """Count one event (the caller has checked :meth:`too_late` first); returns the
        request's kind (:func:`stream.core.behaviour.request_kind`)."""
        kind = self.behaviour.apply(ev)
        self.counters.apply(ev, navigation=kind in (PAGE, PROFILE))
        if offset > self.last_offset:
            self.last_offset = offset
        return kind

    def group_flag(self, ts: float) -> str:
        """The correlator's reason when a group signal is in force at ``ts``."""
        return self.group_reason if ts < self.group_expires else ""
