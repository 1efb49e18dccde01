"""How an actor browses, in event time: the behavioural evidence the model reads.

The volume windows (:mod:`stream.core.counters`) say how much; this says how. Each
request is classified (:mod:`stream.core.request_kind`: a page, a profile view, a static
asset, ``robots.txt``, an API call) and folded into recency-weighted counters that decay with
a time constant of ``TAU_S`` of event time, so every share below describes the actor's
recent behaviour, whatever the volume. From the web-robot-detection literature (Tan &
Kumar 2002; Doran & Gokhale 2011; Stevanovic et al. 2012; Suchacka et al. 2021) and from
how scrapers of profiles work:

* what is fetched — share of static assets (people's browsers fetch them; HTTP clients
  do not), assets per page, HEAD requests, ``robots.txt``, API calls;
* how pages are reached — share without a referrer (where the producer sends
  referrers), share of pages reached from a page the actor had just seen (link
  following) and of *back* navigation to an earlier page (people do it, crawlers rarely),
  share of profile views not reached from a page of the actor's own browsing;
* the rhythm — dwell time between pages (geometric mean) and its spread (coefficient of
  variation: people read for very different times; a script sleeps ``uniform(a, b)``),
  sessions (30 minutes without a request end one) with their pages and duration,
  night-time share;
* breadth — revisits of recently seen pages, path depth and its spread;
* errors — 4xx and 5xx separately;
* identity churn — user agents per actor (IPs per actor are in the counters);
* personal data — share of profile views that exposed contact fields.

State is fixed arrays of numbers (about 0.6 KB as Python objects); no per-request
memory.
"""

from __future__ import annotations

import math
import struct
from array import array
from typing import Any, Final

from stream.core.records import MAX_TS, RequestEvent
from stream.core.request_kind import (
    API,
    ASSET,
    PROFILE,
    ROBOTS,
    concrete_path,
    referrer_path,
    request_kind,
)
from stream.core.windows import keyed_hash, stable_hash

TAU_S: Final = 3600.0  # time constant of the recency weighting
DECAY_STEP_S: Final = 30.0  # decay is applied when event time moves on by this much
SESSION_GAP_S: Final = 1800.0  # a gap this long ends a session
GAP_ALPHA: Final = 0.1  # weight of a new observation in the rhythm averages
RECENT_PAGES: Final = 16  # hashes of recently seen pages, for revisits and referrers
MAX_UAS: Final = 4

CONTACT_FIELDS: Final = frozenset({"email", "phone", "address", "birthdate", "date_of_birth"})

# indices of the recency-weighted counters
(
    C_REQ,
    C_PAGE,
    C_ASSET,
    C_HEAD,
    C_API,
    C_E4,
    C_E5,
    C_NIGHT,
    C_REF_KNOWN,
    C_NOREF,
    C_FOLLOW,
    C_BACK,
    C_REVISIT,
    C_VIEW,
    C_VIEW_OFFSITE,
    C_CONTACT,
    C_ROBOTS,
    C_VIEW_REF,  # profile views whose referrer the producer sent
) = range(18)
N_COUNTERS: Final = 18

# indices of the running statistics
(
    S_ANCHOR,  # event time the counters are decayed to
    S_LAST_TS,  # newest request
    S_LAST_PAGE_TS,  # newest page or profile view
    S_GAP_MEAN,  # EW mean of page-to-page gaps within a session (s)
    S_GAP_VAR,  # EW variance of those gaps
    S_LOG_GAP,  # EW mean of log(gap): the geometric mean dwell
    S_GAPS,  # how many gaps went into the averages
    S_DEPTH_MEAN,  # EW mean of the path depth of pages
    S_DEPTH_VAR,
    S_SESSION_START,
    S_SESSION_PAGES,
    S_SESSIONS,  # sessions seen
    S_SESSION_PAGES_MEAN,  # EW mean over ended sessions
    S_SESSION_DUR_MEAN,
    S_UA_CHANGES,
    S_PAGES_SEEN,  # pages and profile views in all
) = range(16)
N_STATS: Final = 16
_TIMES: Final = (S_ANCHOR, S_LAST_TS, S_LAST_PAGE_TS, S_SESSION_START)


def _hash16(text: str) -> int:
    # the fast keyed CRC: a bot needs no made-up collision to name a page it was shown
    # as its referrer (it can fetch the page), so BLAKE2b would buy nothing here
    return (stable_hash(text) & 0xFFFF) or 1


_C0: Final = array("f", bytes(4 * N_COUNTERS))  # never changed: copied by Behaviour()
_S0: Final = array("d", bytes(8 * N_STATS))
_PAGES0: Final = array("H", bytes(2 * RECENT_PAGES))
_UAS0: Final = array("I")
# An actor's user agents are never changed in place (a new array replaces them), so the
# arrays of a single user agent, what most actors have, are shared: one per agent.
_ONE_UA: dict[int, array[int]] = {}
_ONE_UA_MAX: Final = 4096  # bound: made-up user agents are not kept beyond this many


def _one_ua(h: int) -> array[int]:
    uas = _ONE_UA.get(h)
    if uas is None:
        uas = array("I", (h,))
        if len(_ONE_UA) < _ONE_UA_MAX:
            _ONE_UA[h] = uas
    return uas


_LAST_PAGE_N: Final = struct.Struct("<HB")  # newest page hash, number of user agents


class Behaviour:
    """Recency-weighted browsing evidence of one actor (see the module docstring)."""

    __slots__ = ("c", "last_page", "pages", "s", "uas")

    def __init__(self) -> None:
        # copies of shared zero arrays: one allocation each
        self.c = _C0[:]
        self.s = _S0[:]
        self.pages = _PAGES0[:]  # ring of recent page hashes
        self.last_page = 0  # hash of the newest page
        self.uas = _UAS0  # distinct user-agent hashes (at most MAX_UAS); never changed in place

    # -- updates -------------------------------------------------------------------------
    def _weight(self, ts: float) -> float:
        """Decay the counters to ``ts`` if it is newer; the weight of an event at ``ts``."""
        s = self.s
        anchor = s[S_ANCHOR]
        if ts > anchor + DECAY_STEP_S or anchor == 0.0:
            if anchor > 0.0:
                f = math.exp((anchor - ts) / TAU_S)
                c = self.c
                for i in range(N_COUNTERS):
                    c[i] *= f
            s[S_ANCHOR] = ts
            return 1.0
        if ts >= anchor:
            return 1.0
        return math.exp((ts - anchor) / TAU_S)  # out of order: it counts for less

    def apply(self, ev: RequestEvent) -> int:
        """Fold one request in; returns its kind (:func:`request_kind`)."""
        ts = ev.ts
        c, s = self.c, self.s
        w = self._weight(ts)
        kind = request_kind(ev.method, ev.path, ev.target_profile_id is not None, ev.fetch_dest)
        c[C_REQ] += w
        status = ev.status
        if status >= 500:
            c[C_E5] += w
        elif status >= 400:
            c[C_E4] += w
        if ev.method == "HEAD":
            c[C_HEAD] += w
        if 0 <= (ts % 86400.0) < 6 * 3600.0:
            c[C_NIGHT] += w
        self._user_agent(ev.user_agent)
        ref = ev.referrer
        ref_page = ""
        if ref is not None:
            c[C_REF_KNOWN] += w
            if not ref:
                c[C_NOREF] += w
            else:
                ref_page = referrer_path(ref)
        if kind == ASSET:
            c[C_ASSET] += w
        elif kind == API:
            c[C_API] += w
        elif kind == ROBOTS:
            c[C_ROBOTS] += w
        else:
            self._page(ev, kind, ts, w, ref_page)
        if ts > s[S_LAST_TS]:
            s[S_LAST_TS] = ts
        return kind

    def _page(self, ev: RequestEvent, kind: int, ts: float, w: float, ref_page: str) -> None:
        """A page or a profile view: rhythm, navigation, breadth, sessions.

        ``ref_page``: the page its referrer names (:func:`referrer_path`; "" for none)."""
        c, s, pages = self.c, self.s, self.pages
        c[C_PAGE] += w
        page_hash = _hash16(concrete_path(ev.path, ev.target_profile_id))
        seen = page_hash in pages
        if seen:
            c[C_REVISIT] += w
        # the referrer as one of the actor's recent pages (0: none of them), with its
        # query, else without (a browser sends the query, a producer's path may not have it)
        hit = 0
        if ref_page:
            hit = _hash16(ref_page)
            if hit not in pages:
                base, query, _ = ref_page.partition("?")
                hit = _hash16(base) if query else 0
                if hit not in pages:
                    hit = 0
        if hit:
            if hit == self.last_page:
                c[C_FOLLOW] += w
            else:
                c[C_BACK] += w
        if kind == PROFILE:
            c[C_VIEW] += w
            ref = ev.referrer
            if ref is not None:
                c[C_VIEW_REF] += w
                # reached from a page of the actor's own recent browsing; a referrer naming
                # a page it never fetched counts like none, whether the producer sends
                # referrers as URLs or as paths (a script forging a fixed "/search" has
                # no search of its own)
                if not hit:
                    c[C_VIEW_OFFSITE] += w
            if ev.fields and not CONTACT_FIELDS.isdisjoint(ev.fields):
                c[C_CONTACT] += w
        # depth of the path (route templates count like paths)
        depth = float(ev.path.count("/"))
        if s[S_GAPS] == 0.0 and s[S_SESSION_PAGES] == 0.0:
            s[S_DEPTH_MEAN] = depth
        else:
            d = depth - s[S_DEPTH_MEAN]
            s[S_DEPTH_MEAN] += GAP_ALPHA * d
            s[S_DEPTH_VAR] = (1.0 - GAP_ALPHA) * (s[S_DEPTH_VAR] + GAP_ALPHA * d * d)
        # rhythm and sessions
        last = s[S_LAST_PAGE_TS]
        if last == 0.0 or ts - last > SESSION_GAP_S:
            if last != 0.0:
                self._end_session()
            s[S_SESSIONS] += 1.0
            s[S_SESSION_START] = ts
            s[S_SESSION_PAGES] = 1.0
        else:
            s[S_SESSION_PAGES] += 1.0
            if ts > last:
                gap = ts - last
                if s[S_GAPS] == 0.0:
                    s[S_GAP_MEAN], s[S_LOG_GAP] = gap, math.log1p(gap)
                else:
                    d = gap - s[S_GAP_MEAN]
                    s[S_GAP_MEAN] += GAP_ALPHA * d
                    s[S_GAP_VAR] = (1.0 - GAP_ALPHA) * (s[S_GAP_VAR] + GAP_ALPHA * d * d)
                    s[S_LOG_GAP] += GAP_ALPHA * (math.log1p(gap) - s[S_LOG_GAP])
                s[S_GAPS] += 1.0
        if ts > last:
            s[S_LAST_PAGE_TS] = ts
        # the recent pages, least recently used first: the page a view was reached from
        # and a page seen again move to the end (a list of results opened in tabs one
        # profile after another stays "seen" however long the list), a new page pushes
        # out the oldest
        if hit and hit != page_hash:
            pages.remove(hit)
            pages.append(hit)
        if seen:
            pages.remove(page_hash)
        else:
            del pages[0]
        pages.append(page_hash)
        s[S_PAGES_SEEN] += 1.0
        self.last_page = page_hash

    def _end_session(self) -> None:
        s = self.s
        pages = s[S_SESSION_PAGES]
        dur = max(0.0, s[S_LAST_PAGE_TS] - s[S_SESSION_START])
        ended = s[S_SESSIONS] - 1.0  # sessions ended before this one
        if ended <= 0.0:
            s[S_SESSION_PAGES_MEAN], s[S_SESSION_DUR_MEAN] = pages, dur
        else:
            s[S_SESSION_PAGES_MEAN] += 0.3 * (pages - s[S_SESSION_PAGES_MEAN])
            s[S_SESSION_DUR_MEAN] += 0.3 * (dur - s[S_SESSION_DUR_MEAN])

    def _user_agent(self, user_agent: str) -> None:
        if not user_agent:
            return
        h = keyed_hash(user_agent) or 1  # keyed: no user agents made up to count as one
        uas = self.uas
        if h in uas:
            return
        if uas:
            self.s[S_UA_CHANGES] += 1.0
            if len(uas) < MAX_UAS:
                self.uas = uas + array("I", (h,))
        else:
            self.uas = _one_ua(h)

    # -- reads ---------------------------------------------------------------------------
    def share(self, numerator: int, denominator: int = C_REQ) -> float:
        den = self.c[denominator]
        return self.c[numerator] / den if den > 1e-9 else 0.0

    def page_gap_cv(self) -> float:
        s = self.s
        if s[S_GAPS] < 3.0 or s[S_GAP_MEAN] <= 0.0:
            return -1.0  # not known yet
        return math.sqrt(s[S_GAP_VAR]) / s[S_GAP_MEAN]

    def dwell_s(self) -> float:
        """Geometric mean of the time between pages (-1: not known yet)."""
        s = self.s
        return math.expm1(s[S_LOG_GAP]) if s[S_GAPS] >= 1.0 else -1.0

    def session_pages(self) -> float:
        s = self.s
        return max(s[S_SESSION_PAGES], s[S_SESSION_PAGES_MEAN])

    def session_minutes(self) -> float:
        s = self.s
        current = max(0.0, s[S_LAST_PAGE_TS] - s[S_SESSION_START])
        return max(current, s[S_SESSION_DUR_MEAN]) / 60.0

    def depth_std(self) -> float:
        return math.sqrt(max(self.s[S_DEPTH_VAR], 0.0))

    # -- persistence -----------------------------------------------------------------------
    def dump(self) -> bytes:
        parts: list[bytes | bytearray | array[Any]] = []
        self.dump_into(parts)
        return b"".join(parts)

    def dump_into(self, parts: list[bytes | bytearray | array[Any]]) -> None:
        """Append the parts of :meth:`dump` to ``parts`` (arrays as buffers, not copies)."""
        parts += (
            self.c,
            self.s,
            self.pages,
            _LAST_PAGE_N.pack(self.last_page, len(self.uas)),
            self.uas,
        )

    SIZE_FIXED: Final = 4 * N_COUNTERS + 8 * N_STATS + 2 * RECENT_PAGES + 2 + 1

    @classmethod
    def load(cls, buf: memoryview, pos: int) -> tuple[Behaviour, int]:
        b = cls()
        end = pos + 4 * N_COUNTERS
        b.c = array("f", bytes(buf[pos:end]))
        pos, end = end, end + 8 * N_STATS
        b.s = array("d", bytes(buf[pos:end]))
        pos, end = end, end + 2 * RECENT_PAGES
        b.pages = array("H", bytes(buf[pos:end]))
        b.last_page = int.from_bytes(bytes(buf[end : end + 2]), "little")
        n = buf[end + 2]
        pos = end + 3
        if n > MAX_UAS or len(b.c) != N_COUNTERS or len(b.s) != N_STATS:
            raise ValueError("behaviour state is inconsistent")
        uas = array("I", bytes(buf[pos : pos + 4 * n]))
        if len(uas) != n:
            raise ValueError("truncated behaviour state")
        b.uas = _one_ua(uas[0]) if n == 1 else uas
        if not (all(map(math.isfinite, b.c)) and all(map(math.isfinite, b.s))):
            raise ValueError("behaviour state is not finite")
        if not all(0.0 <= b.s[i] < MAX_TS for i in _TIMES):
            raise ValueError("behaviour state: time out of range")
        # what the updates cannot make, and the features could not read (sqrt, expm1)
        s = b.s
        if not (s[S_GAP_VAR] >= 0.0 and s[S_DEPTH_VAR] >= 0.0 and 0.0 <= s[S_LOG_GAP] <= 30.0):
            raise ValueError("behaviour state: statistics out of range")
        return b, pos + 4 * n

    def newest_ts(self) -> float:
        """The newest of the event times it holds (0 when fresh)."""
        s = self.s
        return max(s[S_ANCHOR], s[S_LAST_TS], s[S_LAST_PAGE_TS], s[S_SESSION_START])
