"""Everything scrapeguard remembers about one actor: what it measured of it
(volumes: :class:`~stream.core.counters.ActorCounters`; how it browses:
:class:`~stream.core.behaviour.Behaviour`), what it decided about it
(:class:`~stream.core.enforcement.Enforcement`), the newest group signal from the
correlator, its latest model score, the last offset it counted (to skip re-deliveries
after a crash) and a cache of the allowlist verdict. The binary form for the changelog
is :mod:`stream.core.actor_codec`.
"""

from __future__ import annotations

from stream.core.behaviour import Behaviour
from stream.core.counters import ActorCounters
from stream.core.enforcement import Enforcement
from stream.core.records import RequestEvent
from stream.core.request_kind import PAGE, PROFILE

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
        "subnet_expires",
        "subnet_reason",
        "subnet_share",
        "verdict",
    )

    def __init__(self) -> None:
        self.counters = ActorCounters()
        self.behaviour = Behaviour()
        self.enforcement = Enforcement()
        # the group of the actor's address, e.g. "accounts_per_ip 12 > 8 (p_…)"; the group
        # of its /24 apart, e.g. "accounts_per_subnet 37 > 20 (203.0.113.0/24)"
        self.group_reason = ""
        self.group_expires = 0.0
        self.group_share = 0.0  # of the group's accounts, the share that scores high
        self.subnet_reason = ""
        self.subnet_expires = 0.0
        self.subnet_share = 0.0
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
        request's kind (:func:`stream.core.request_kind.request_kind`)."""
        kind = self.behaviour.apply(ev)
        self.counters.apply(ev, navigation=kind in (PAGE, PROFILE))
        if offset > self.last_offset:
            self.last_offset = offset
        return kind

    def group_flag(self, ts: float) -> str:
        """The correlator's reason when a group signal is in force at ``ts``: the address's
        group's over the /24's (the nearer evidence: an office's address is not judged by a
        farm elsewhere in its /24, nor a farm's address by the people around it)."""
        if ts < self.group_expires:
            return self.group_reason
        return self.subnet_reason if ts < self.subnet_expires else ""

    def hold_group(
        self, subnet: bool, reason: str, ts: float, expires: float, share: float
    ) -> None:
        """Keep a group signal sent at ``ts`` in its slot (the /24's or the address's),
        unless the slot holds one in force then that lasts longer: a group whose evidence
        turns re-signals at one time with the same expiry, and a signal that arrives late,
        with an earlier expiry, does not replace a later one."""
        held = self.subnet_expires if subnet else self.group_expires
        if ts < held and expires < held:
            return
        if subnet:
            self.subnet_reason, self.subnet_expires, self.subnet_share = reason, expires, share
        else:
            self.group_reason, self.group_expires, self.group_share = reason, expires, share

    def drop_lapsed(self, before: float) -> None:
        """Clear a group slot that lapsed at or before ``before``."""
        if self.group_expires <= before:
            self.group_reason, self.group_expires, self.group_share = "", 0.0, 0.0
        if self.subnet_expires <= before:
            self.subnet_reason, self.subnet_expires, self.subnet_share = "", 0.0, 0.0

    def group_share_at(self, ts: float) -> float:
        """The share of high scorers in the group whose reason :meth:`group_flag` gives."""
        if ts < self.group_expires:
            return self.group_share
        return self.subnet_share if ts < self.subnet_expires else 0.0
