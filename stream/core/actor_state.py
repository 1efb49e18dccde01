"""Per-actor windowed state, updated one event at a time, in event time.

What is kept (and why) — the per-actor memory budget in the README is this list:

* hour ring: 60 one-minute slots × (requests, profile views, errors), uint16 each;
* day ring: 24 one-hour slots of requests, uint32;
* distinct target profiles per hour (exact ≤ 32, then 256-position sketch) and per day
  (exact ≤ 64, then 512-position sketch) — created on the first profile view;
* distinct IP addresses per hour (exact ≤ 16, then a 64-position sketch);
* the newest group signal from the correlator (e.g. "accounts_per_subnet 37 > 20");
* inter-arrival statistics (exponentially weighted mean and variance of the gaps),
  id-enumeration share, automation user-agent flag, account creation time;
* the enforcement state: current action, its expiry, profile views at that time.

:meth:`ActorState.encode` / :func:`decode` give a compact binary form (no pickle)
for the changelog.
"""

from __future__ import annotations

import re
import struct
from array import array
from functools import lru_cache
from typing import Final

from stream.core.records import RequestEvent
from stream.core.windows import DistinctSpec, SlidingCounter, SlidingDistinct, stable_hash

HOUR_DISTINCT: Final = DistinctSpec(slots=60, slot_s=60.0, exact_max=32, bits=256)
DAY_DISTINCT: Final = DistinctSpec(slots=24, slot_s=3600.0, exact_max=64, bits=512)
IP_DISTINCT: Final = DistinctSpec(slots=60, slot_s=60.0, exact_max=16, bits=64)
DAY_S: Final = 86400.0

# channels of the hour ring
REQ, VIEW, ERR = 0, 1, 2

GAP_ALPHA: Final = 0.1
SEQ_ALPHA: Final = 0.1

AUTOMATION_UA = re.compile(
    r"headless|phantomjs|selenium|puppeteer|playwright|python-requests|python-urllib|"
    r"aiohttp|httpx|scrapy|curl/|wget/|go-http-client|okhttp|java/|libwww|httpclient|"
    r"node-fetch|axios",
    re.IGNORECASE,
)

_ACTION_CODES = {"allow": 0, "challenge": 1, "block": 2}
ACTION_NAMES = ("allow", "challenge", "block")


@lru_cache(maxsize=4096)
def is_automation_ua(user_agent: str) -> bool:
    """User agents of HTTP libraries, headless browsers and scraping frameworks."""
    return AUTOMATION_UA.search(user_agent) is not None


def numeric_id(profile_id: str) -> int:
    return int(profile_id) if profile_id.isdigit() and len(profile_id) < 18 else -1


class ActorState:
    """Everything scrapeguard remembers about one actor."""

    __slots__ = (
        "action",
        "action_expires",
        "action_ts",
        "allow_sig",
        "allowlisted",
        "automation",
        "created_ts",
        "day",
        "distinct_day",
        "distinct_hour",
        "events",
        "first_ts",
        "gap_mean",
        "gap_var",
        "group_expires",
        "group_reason",
        "hour",
        "ip0",
        "ips",
        "last_offset",
        "last_target",
        "last_ts",
        "score",
        "seq_share",
        "views",
        "views_at_action",
    )

    def __init__(self) -> None:
        self.hour = SlidingCounter(60, 60.0, channels=3, typecode="H")
        self.day = SlidingCounter(24, 3600.0, channels=1, typecode="I")
        self.distinct_hour: SlidingDistinct | None = None
        self.distinct_day: SlidingDistinct | None = None
        self.first_ts = 0.0
        self.last_ts = 0.0
        self.last_offset = -1
        self.events = 0
        self.views = 0
        self.created_ts = -1.0
        self.gap_mean = 0.0
        self.gap_var = 0.0
        self.last_target = -1
        self.seq_share = 0.0
        self.automation = False
        self.action = 0
        self.action_expires = 0.0
        self.action_ts = 0.0
        self.views_at_action = 0
        self.score = 0.0
        self.allowlisted = False
        self.allow_sig = 0
        self.ips: SlidingDistinct | None = None
        self.ip0 = 0  # hash of the only address seen, until there is a second
        self.group_reason = ""
        self.group_expires = 0.0

    # -- updates ---------------------------------------------------------------------
    def too_late(self, ts: float) -> bool:
        """True when ``ts`` is older than every window this state keeps (the day)."""
        return self.events > 0 and ts <= self.last_ts - DAY_S

    def apply(self, ev: RequestEvent, offset: int) -> None:
        """Count one event. The caller has checked :meth:`too_late` first."""
        ts = ev.ts
        is_view = ev.target_profile_id is not None
        self.hour.add(ts, (1, 1 if is_view else 0, 1 if ev.status >= 400 else 0))
        self.day.add(ts, (1,))
        if self.events == 0:
            self.first_ts = self.last_ts = ts
        elif ts > self.last_ts:
            gap = ts - self.last_ts
            if self.events == 1:
                self.gap_mean = gap  # first gap: start the average there, not at 0
            delta = gap - self.gap_mean
            self.gap_mean += GAP_ALPHA * delta
            self.gap_var = (1.0 - GAP_ALPHA) * (self.gap_var + GAP_ALPHA * delta * delta)
            self.last_ts = ts
        elif ts < self.first_ts:
            self.first_ts = ts
        self.events += 1
        if offset > self.last_offset:
            self.last_offset = offset
        if ev.account_created_ts is not None:
            self.created_ts = ev.account_created_ts
        if ev.user_agent:
            self.automation = is_automation_ua(ev.user_agent)
        if ev.ip is not None:
            h = stable_hash(ev.ip) or 1
            if self.ips is not None:
                self.ips.add(h, ts)
            elif self.ip0 == 0:
                self.ip0 = h  # most actors use one address: no distinct set until a second
            elif h != self.ip0:
                self.ips = SlidingDistinct(IP_DISTINCT)
                self.ips.add(self.ip0, self.last_ts)
                self.ips.add(h, ts)
        if is_view:
            target = ev.target_profile_id
            assert target is not None
            self.views += 1
            h = stable_hash(target)
            if self.distinct_hour is None:
                self.distinct_hour = SlidingDistinct(HOUR_DISTINCT)
                self.distinct_day = SlidingDistinct(DAY_DISTINCT)
            self.distinct_hour.add(h, ts)
            assert self.distinct_day is not None
            self.distinct_day.add(h, ts)
            num = numeric_id(target)
            if num >= 0 and self.last_target >= 0:
                step = 1.0 if 0 < abs(num - self.last_target) <= 2 else 0.0
                self.seq_share += SEQ_ALPHA * (step - self.seq_share)
            self.last_target = num

    # -- reads -----------------------------------------------------------------------
    @property
    def requests_per_minute(self) -> int:
        """Requests in the 60 s up to the newest event (sliding estimate)."""
        return self.hour.last_slot_span(self.last_ts, REQ)

    @property
    def active_hours(self) -> int:
        """Hours of the last day with at least one request (24 = around the clock)."""
        return sum(1 for c in self.day.ring if c)

    @property
    def ips_per_hour(self) -> int:
        d = self.ips
        if d is None:
            return 1 if self.ip0 else 0
        return round(d.estimate())

    def group_flag(self, ts: float) -> str:
        """The correlator's reason when a group signal is in force at ``ts``."""
        return self.group_reason if ts < self.group_expires else ""

    @property
    def requests_per_hour(self) -> int:
        return self.hour.total(REQ)

    @property
    def requests_per_day(self) -> int:
        return self.day.total(0)

    @property
    def views_per_hour(self) -> int:
        return self.hour.total(VIEW)

    @property
    def errors_per_hour(self) -> int:
        return self.hour.total(ERR)

    @property
    def profiles_per_hour(self) -> int:
        # an estimate never exceeds what it estimates: at most one profile per view
        d = self.distinct_hour
        return 0 if d is None else min(round(d.estimate()), self.hour.totals[VIEW])

    @property
    def profiles_per_day(self) -> int:
        # the day holds the hour: never report less than the hour's (independent) estimate
        d = self.distinct_day
        if d is None:
            return 0
        return min(max(round(d.estimate()), self.profiles_per_hour), self.day.totals[0])

    def account_age_days(self, ts: float) -> float | None:
        if self.created_ts < 0:
            return None
        return max(0.0, (ts - self.created_ts) / DAY_S)

    def gap_cv(self) -> float:
        """Coefficient of variation of inter-arrival gaps: ~0 for a metronome bot."""
        if self.gap_mean <= 0.0:
            return 0.0
        return float(self.gap_var**0.5 / self.gap_mean)

    @property
    def action_name(self) -> str:
        return ACTION_NAMES[self.action]

    # -- persistence -----------------------------------------------------------------
    _HEAD = struct.Struct("<BddqqqdddqdBBdddqBII")
    _VERSION = 3

    def encode(self) -> bytes:
        parts = [
            self._HEAD.pack(
                self._VERSION,
                self.first_ts,
                self.last_ts,
                self.last_offset,
                self.events,
                self.views,
                self.created_ts,
                self.gap_mean,
                self.gap_var,
                self.last_target,
                self.seq_share,
                self.automation,
                self.action,
                self.action_expires,
                self.action_ts,
                self.score,
                self.views_at_action,
                self.allowlisted,
                self.allow_sig,
                self.ip0,
            ),
            struct.pack("<qq", self.hour.head, self.day.head),
            self.hour.ring.tobytes(),
            self.day.ring.tobytes(),
        ]
        group = self.group_reason.encode()
        flags = (
            (1 if self.distinct_hour is not None else 0)
            | (2 if self.ips is not None else 0)
            | (4 if group else 0)
        )
        parts.append(bytes((flags,)))
        if self.distinct_hour is not None and self.distinct_day is not None:
            parts.append(_pack_distinct(self.distinct_hour))
            parts.append(_pack_distinct(self.distinct_day))
        if self.ips is not None:
            parts.append(_pack_distinct(self.ips))
        if group:
            parts.append(struct.pack("<dH", self.group_expires, len(group)) + group)
        return b"".join(parts)


_DHEAD = struct.Struct("<qqHH")  # head, last_sweep, n_exact (or 0), sketch bytes (or 0)


def _pack_distinct(d: SlidingDistinct) -> bytes:
    head, last_sweep, members, stamps = d.dump()
    if stamps is not None:
        return _DHEAD.pack(head, last_sweep, len(members) // 4, 0) + members + stamps
    return _DHEAD.pack(head, last_sweep, 0, len(members)) + members


def _unpack_distinct(spec: DistinctSpec, buf: memoryview, pos: int) -> tuple[SlidingDistinct, int]:
    head, last_sweep, n_exact, n_sketch = _DHEAD.unpack_from(buf, pos)
    pos += _DHEAD.size
    if n_sketch:
        members = bytes(buf[pos : pos + n_sketch])
        pos += n_sketch
        return SlidingDistinct.load(spec, head, last_sweep, members, None), pos
    members = bytes(buf[pos : pos + 4 * n_exact])
    pos += 4 * n_exact
    stamps = bytes(buf[pos : pos + 4 * n_exact])
    pos += 4 * n_exact
    if len(stamps) != 4 * n_exact:
        raise ValueError("truncated distinct set")
    return SlidingDistinct.load(spec, head, last_sweep, members, stamps), pos


def decode(data: bytes) -> ActorState:
    """Inverse of :meth:`ActorState.encode`. Raises ValueError on a malformed blob."""
    try:
        return _decode(memoryview(data))
    except (struct.error, IndexError, TypeError, ValueError) as exc:
        raise ValueError(f"malformed actor state: {exc}") from exc


def _decode(buf: memoryview) -> ActorState:
    head = ActorState._HEAD
    fields = head.unpack_from(buf, 0)
    if fields[0] != ActorState._VERSION:
        raise ValueError(f"unknown actor state version {fields[0]}")
    s = ActorState()
    (
        _,
        s.first_ts,
        s.last_ts,
        s.last_offset,
        s.events,
        s.views,
        s.created_ts,
        s.gap_mean,
        s.gap_var,
        s.last_target,
        s.seq_share,
        automation,
        s.action,
        s.action_expires,
        s.action_ts,
        s.score,
        s.views_at_action,
        allowlisted,
        s.allow_sig,
        s.ip0,
    ) = fields
    s.automation, s.allowlisted = bool(automation), bool(allowlisted)
    pos = head.size
    s.hour.head, s.day.head = struct.unpack_from("<qq", buf, pos)
    pos += 16
    for counter in (s.hour, s.day):
        n = len(counter.ring) * counter.ring.itemsize
        counter.ring = array(counter.ring.typecode, bytes(buf[pos : pos + n]))
        pos += n
    s.hour.totals = [sum(s.hour.ring[c::3]) for c in range(3)]
    s.day.totals = [sum(s.day.ring)]
    flags = buf[pos]
    pos += 1
    if flags & 1:
        s.distinct_hour, pos = _unpack_distinct(HOUR_DISTINCT, buf, pos)
        s.distinct_day, pos = _unpack_distinct(DAY_DISTINCT, buf, pos)
    if flags & 2:
        s.ips, pos = _unpack_distinct(IP_DISTINCT, buf, pos)
    if flags & 4:
        s.group_expires, n = struct.unpack_from("<dH", buf, pos)
        pos += 10
        s.group_reason = bytes(buf[pos : pos + n]).decode()
        pos += n
    if pos != len(buf):
        raise ValueError("trailing bytes in actor state")
    return s


def action_code(name: str) -> int:
    return _ACTION_CODES[name]
