"""The feature vector of an actor, read from its state: what every model sees.

Three groups, all in the actor's own event time:

* **volume** — requests per minute / hour / day, distinct profiles per hour / day, the
  share of requests that return a profile and distinct profiles per request;
* **behaviour** (:mod:`stream.core.behaviour`) — assets, HEAD, API calls, errors by class,
  night-time share, referrers (missing, link following, back navigation), revisits, path
  depth, dwell time between pages and its spread, sessions, user-agent churn, profile
  views not reached from the platform's pages, contact fields exposed, ``robots.txt``;
* **signs** — inter-arrival regularity, id enumeration, hours active in the day, an
  HTTP-library user agent, account age, IP churn.

Where the evidence for a feature is not in the stream at all — a producer that sends no
referrers, a platform that only reports requests returning personal data (no assets) —
the feature takes its ``NEUTRAL`` value for every actor, so it cannot rank anyone.
:class:`StreamContext` says what the partition's traffic carries.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from stream.core import behaviour as bh
from stream.core.actor_state import ActorState

FEATURE_NAMES = (
    # volume
    "requests_per_minute",
    "requests_per_hour",
    "requests_per_day",
    "profiles_per_hour",
    "profiles_per_day",
    "profile_share",
    "distinct_ratio",
    # behaviour
    "asset_share",
    "assets_per_page",
    "head_share",
    "api_share",
    "error4_share",
    "error5_share",
    "night_share",
    "noref_share",
    "follow_share",
    "back_share",
    "revisit_share",
    "offsite_view_share",
    "contact_share",
    "robots",
    "dwell_s",
    "page_gap_cv",
    "session_pages",
    "session_minutes",
    "depth_mean",
    "depth_std",
    "ua_count",
    # signs
    "gap_cv",
    "mean_gap_s",
    "enumeration_share",
    "active_hours",
    "automation_ua",
    "account_age_days",
    "ips_per_hour",
)

UNKNOWN_AGE_DAYS = 365.0  # neutral value when the platform does not send account_created_ts

# values a feature takes when the stream carries no evidence for it (see the docstring)
NEUTRAL = {
    "asset_share": 0.3,
    "assets_per_page": 2.0,
    "noref_share": 0.3,
    "follow_share": 0.5,
    "back_share": 0.1,
    "offsite_view_share": 0.5,
    "dwell_s": 20.0,
    "page_gap_cv": 1.0,
    "ua_count": 1.0,  # one user agent: what an actor without evidence of churn has
}

ASSET_FEATURES = ("asset_share", "assets_per_page")
REFERRER_FEATURES = ("noref_share", "follow_share", "back_share", "offsite_view_share")


@dataclass
class StreamContext:
    """What a partition's traffic carries, over all its actors (recency-weighted), the
    batch being worked included — so the first batch after a start is judged on its own
    evidence rather than with every asset and referrer feature neutral."""

    requests: float = 0.0
    assets: float = 0.0
    with_referrer: float = 0.0
    # this batch so far: requests, assets, requests with a referrer (the detector counts)
    pending: list[int] = field(default_factory=lambda: [0, 0, 0])

    def close_batch(self) -> None:
        """Fold the batch's pending counts into the recency-weighted totals (batches are
        the unit of memory: ~100 batches)."""
        p, f = self.pending, 0.99
        self.requests = self.requests * f + p[0]
        self.assets = self.assets * f + p[1]
        self.with_referrer = self.with_referrer * f + p[2]
        p[0] = p[1] = p[2] = 0

    @property
    def has_assets(self) -> bool:
        """Static assets are at least 1 % of the traffic: the producer sends them."""
        requests = self.requests + self.pending[0]
        return requests > 0 and self.assets + self.pending[1] >= 0.01 * requests

    @property
    def has_referrers(self) -> bool:
        requests = self.requests + self.pending[0]
        return requests > 0 and self.with_referrer + self.pending[2] >= 0.5 * requests


FULL_CONTEXT = StreamContext(1.0, 1.0, 1.0)  # every kind of evidence (offline, tests)


def features(
    state: ActorState, ts: float, context: StreamContext = FULL_CONTEXT
) -> dict[str, float]:
    c, b = state.counters, state.behaviour
    bc = b.c
    req_hour = c.requests_per_hour
    per_req = 1.0 / req_hour if req_hour else 0.0
    profiles_hour = c.profiles_per_hour
    age = c.account_age_days(ts)
    pages = bc[bh.C_PAGE]
    per_page = 1.0 / pages if pages > 1e-9 else 0.0
    gap_cv = b.page_gap_cv()
    dwell = b.dwell_s()
    x = {
        "requests_per_minute": float(c.requests_per_minute),
        "requests_per_hour": float(req_hour),
        "requests_per_day": float(c.requests_per_day),
        "profiles_per_hour": float(profiles_hour),
        "profiles_per_day": float(c.profiles_per_day),
        "profile_share": c.views_per_hour * per_req,
        "distinct_ratio": min(1.0, profiles_hour * per_req),
        "asset_share": b.share(bh.C_ASSET),
        "assets_per_page": min(bc[bh.C_ASSET] * per_page, 50.0),
        "head_share": b.share(bh.C_HEAD),
        "api_share": b.share(bh.C_API),
        "error4_share": b.share(bh.C_E4),
        "error5_share": b.share(bh.C_E5),
        "night_share": b.share(bh.C_NIGHT),
        "noref_share": b.share(bh.C_NOREF, bh.C_REF_KNOWN),
        "follow_share": bc[bh.C_FOLLOW] * per_page,
        "back_share": bc[bh.C_BACK] * per_page,
        "revisit_share": bc[bh.C_REVISIT] * per_page,
        "offsite_view_share": b.share(bh.C_VIEW_OFFSITE, bh.C_VIEW_REF),
        "contact_share": b.share(bh.C_CONTACT, bh.C_VIEW),
        "robots": min(1.0, bc[bh.C_ROBOTS]),
        "dwell_s": min(dwell, 3600.0) if dwell >= 0 else NEUTRAL["dwell_s"],
        "page_gap_cv": min(gap_cv, 5.0) if gap_cv >= 0 else NEUTRAL["page_gap_cv"],
        "session_pages": min(b.session_pages(), 10_000.0),
        "session_minutes": min(b.session_minutes(), 1440.0),
        "depth_mean": b.s[bh.S_DEPTH_MEAN],
        "depth_std": b.depth_std(),
        "ua_count": float(max(1, len(b.uas))),
        "gap_cv": min(c.gap_cv(), 10.0),
        "mean_gap_s": min(c.gap_mean, 3600.0),
        "enumeration_share": c.seq_share,
        "active_hours": float(c.active_hours),
        "automation_ua": 1.0 if c.automation else 0.0,
        "account_age_days": min(age, UNKNOWN_AGE_DAYS) if age is not None else UNKNOWN_AGE_DAYS,
        "ips_per_hour": float(c.ips_per_hour),
    }
    if not context.has_assets:
        for name in ASSET_FEATURES:
            x[name] = NEUTRAL[name]
    if bc[bh.C_REF_KNOWN] < 0.5 * bc[bh.C_REQ] or not context.has_referrers:
        for name in REFERRER_FEATURES:
            x[name] = NEUTRAL[name]
    elif bc[bh.C_VIEW_REF] < 1e-9:
        x["offsite_view_share"] = NEUTRAL["offsite_view_share"]
    if pages < 1e-9:
        for name in ("follow_share", "back_share"):
            x[name] = NEUTRAL[name]
    for k, v in x.items():  # a model never sees NaN or infinity
        if not math.isfinite(v):
            x[k] = 0.0
    return x


def withhold(x: dict[str, float], names: Iterable[str]) -> dict[str, float]:
    """``x`` with the named features at their neutral value (:data:`NEUTRAL`, else 0: no
    evidence), for an evaluation that must not see them — e.g. ``automation_ua`` and
    ``ua_count`` when user agents made the labels. In place; returns x."""
    for name in names:
        if name in x:
            x[name] = NEUTRAL.get(name, 0.0)
    return x
