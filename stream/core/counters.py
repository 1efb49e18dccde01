"""What scrapeguard measures of one actor, one event at a time, in event time.

The per-actor memory budget in the README is this list:

* hour ring: 60 one-minute slots × (requests, profile views, errors), uint16 each;
* day ring: 24 one-hour slots of requests, uint32;
  both kept sparse (the slots in use with their counts) while that is under half the
  ring's bytes, as it is for most actors;
* distinct target profiles per hour (exact ≤ 32, then 256-position sketch) and per day
  (exact ≤ 64, then 512-position sketch) — created on the first profile view;
* distinct IP addresses per hour (exact ≤ 16, then a 64-position sketch) — created when
  a second address appears;
* inter-arrival statistics (exponentially weighted mean and variance of the gaps),
  id-enumeration share, automation user-agent flag, account creation time.

The policy's metrics (``requests_per_minute``, ``profiles_per_hour``, …) are properties
of :class:`ActorCounters`.
"""

from __future__ import annotations

from typing import Final

from stream.core.automation import is_automation_ua, is_crawler_ua
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


def numeric_id(profile_id: str) -> int:
    """A profile id as a number, for enumeration; -1 when it is not plain ASCII digits."""
    if len(profile_id) < 18 and profile_id.isascii() and profile_id.isdigit():
        return int(profile_id)
    return -1


class ActorCounters:
    """What is measured of one actor, in event-time windows (see the module docstring)."""

    __slots__ = (
        "automation",
        "crawler_ua",
        "created_ts",
        "day",
        "distinct_day",
        "distinct_hour",
        "events",
        "first_ts",
        "gap_mean",
        "gap_var",
        "hour",
        "ip0",
        "ips",
        "last_target",
        "last_ts",
        "nav_ts",
        "seq_share",
        "views",
    )

    def __init__(self) -> None:
        self.hour = SlidingCounter(60, 60.0, channels=3, typecode="H", sparse=True)
        self.day = SlidingCounter(24, 3600.0, channels=1, typecode="I", sparse=True)
        self.distinct_hour: SlidingDistinct | None = None
        self.distinct_day: SlidingDistinct | None = None
        self.first_ts: float = 0.0
        self.last_ts: float = 0.0
        self.events: int = 0
        self.views: int = 0
        self.created_ts: float = -1.0
        self.gap_mean: float = 0.0
        self.gap_var: float = 0.0
        self.nav_ts: float = 0.0  # newest navigation (page or profile view)
        self.last_target: int = -1
        self.seq_share: float = 0.0
        self.automation: bool = False  # an HTTP library's or headless browser's user agent
        self.crawler_ua: bool = False  # a user agent that names a crawler
        self.ips: SlidingDistinct | None = None
        self.ip0: int = 0  # hash of the only address seen, until there is a second

    # -- updates ---------------------------------------------------------------------
    def too_late(self, ts: float) -> bool:
        """True when ``ts`` is older than every window this state keeps (the day)."""
        return self.events > 0 and ts <= self.last_ts - DAY_S

    def apply(self, ev: RequestEvent, navigation: bool = True) -> None:
        """Count one event. The caller has checked :meth:`too_late` first.

        The inter-arrival statistics follow navigations only (pages and profile views,
        ``navigation``): a page's assets come in bursts and its script's beacons on a
        timer, whoever sits at the browser."""
        ts = ev.ts
        target = ev.target_profile_id
        is_view = target is not None
        self.hour.add_request(ts, is_view, ev.status >= 400)
        self.day.add_one(ts)
        if self.events == 0:
            self.first_ts = self.last_ts = ts
        elif ts > self.last_ts:
            self.last_ts = ts
        elif ts < self.first_ts:
            self.first_ts = ts
        if navigation and ts > self.nav_ts:
            if self.nav_ts > 0.0:
                gap = ts - self.nav_ts
                if self.gap_mean == 0.0 and self.gap_var == 0.0:
                    self.gap_mean = gap  # first gap: start the average there, not at 0
                delta = gap - self.gap_mean
                self.gap_mean += GAP_ALPHA * delta
                self.gap_var = (1.0 - GAP_ALPHA) * (self.gap_var + GAP_ALPHA * delta * delta)
            self.nav_ts = ts
        elif ts < self.first_ts:
            self.first_ts = ts
        self.events += 1
        if ev.account_created_ts is not None:
            self.created_ts = ev.account_created_ts
        ua = ev.user_agent
        if ua:
            self.automation = is_automation_ua(ua)
            self.crawler_ua = is_crawler_ua(ua)
        ip = ev.ip
        if ip is not None:
            h = stable_hash(ip) or 1
            if self.ips is not None:
                self.ips.add(h, ts)
            elif self.ip0 == 0:
                self.ip0 = h  # most actors use one address: no distinct set until a second
            elif h != self.ip0:
                self.ips = SlidingDistinct(IP_DISTINCT)
                self.ips.add(self.ip0, self.last_ts)
                self.ips.add(h, ts)
        if target is not None:
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
        return self.day.occupied()

    @property
    def ips_per_hour(self) -> int:
        d = self.ips
        if d is None:
            return 1 if self.ip0 else 0
        return round(d.estimate())

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
        return 0 if d is None else min(round(d.estimate()), self.hour.total(VIEW))

    @property
    def profiles_per_day(self) -> int:
        # the day holds the hour: never report less than the hour's (independent) estimate
        d = self.distinct_day
        if d is None:
            return 0
        return min(max(round(d.estimate()), self.profiles_per_hour), self.day.total(0))

    def account_age_days(self, ts: float) -> float | None:
        if self.created_ts < 0:
            return None
        return max(0.0, (ts - self.created_ts) / DAY_S)

    def gap_cv(self) -> float:
        """Coefficient of variation of inter-arrival gaps: ~0 for a metronome bot."""
        if self.gap_mean <= 0.0:
            return 0.0
        return float(self.gap_var**0.5 / self.gap_mean)
