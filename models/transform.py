"""The one transform every built-in model applies to the stream's feature dict.

Counts span six orders of magnitude (a person's 3 views an hour, a scraper's 30,000), so
they are log-compressed; shares stay in ``[0, 1]``; rhythms are log seconds; every value
is bounded. Features a model does not know are ignored, and a missing one takes its
neutral value, so a stream or an evaluation that withholds a feature (e.g. the user
agent) scores the same way with the evidence it has.
"""

from __future__ import annotations

import math

from models.base import Features

# name -> (kind, neutral raw value). kinds: count (log1p), share (clip 0..1),
# seconds (log1p), small (clip 0..10), flag (0/1), days (log1p of age)
SPEC: dict[str, tuple[str, float]] = {
    "requests_per_minute": ("count", 0.0),
    "requests_per_hour": ("count", 0.0),
    "requests_per_day": ("count", 0.0),
    "profiles_per_hour": ("count", 0.0),
    "profiles_per_day": ("count", 0.0),
    "profile_share": ("share", 0.3),
    "distinct_ratio": ("share", 0.3),
    "asset_share": ("share", 0.3),
    "assets_per_page": ("small", 2.0),
    "head_share": ("share", 0.0),
    "api_share": ("share", 0.0),
    "error4_share": ("share", 0.0),
    "error5_share": ("share", 0.0),
    "night_share": ("share", 0.2),
    "noref_share": ("share", 0.3),
    "follow_share": ("share", 0.5),
    "back_share": ("share", 0.1),
    "revisit_share": ("share", 0.2),
    "offsite_view_share": ("share", 0.5),
    "contact_share": ("share", 0.0),
    "robots": ("flag", 0.0),
    "dwell_s": ("seconds", 20.0),
    "page_gap_cv": ("small", 1.0),
    "session_pages": ("count", 5.0),
    "session_minutes": ("count", 5.0),
    "depth_mean": ("small", 2.0),
    "depth_std": ("small", 0.5),
    "ua_count": ("small", 1.0),
    "gap_cv": ("small", 1.0),
    "mean_gap_s": ("seconds", 60.0),
    "enumeration_share": ("share", 0.0),
    "active_hours": ("small", 4.0),
    "automation_ua": ("flag", 0.0),
    "account_age_days": ("count", 365.0),
    "ips_per_hour": ("small", 1.0),
    # derived from the above (see DERIVED)
    "bare_pages": ("share", 0.0),
    "page_only": ("share", 0.0),
}
NAMES = tuple(SPEC)


def _no_assets(x: Features) -> float:
    """1 for an actor whose pages come without assets, 0 from two assets a page on (and
    when the stream carries no assets: ``assets_per_page`` is then neutral, 2)."""
    return max(0.0, 1.0 - x.get("assets_per_page", 2.0) / 2.0)


# features computed from others: pages fetched bare (no assets) and without a referrer
# — a crawler's or an HTTP library's signature in an access log; and pages without
# assets or the page scripts' beacons
DERIVED = {
    "bare_pages": lambda x: x.get("noref_share", 0.3) * _no_assets(x),
    "page_only": lambda x: _no_assets(x) * (1.0 - x.get("api_share", 0.0)),
}


def _one(kind: str, v: float) -> float:
    if not math.isfinite(v):
        return 0.0
    if kind == "count" or kind == "seconds":
        return math.log1p(max(v, 0.0))
    if kind == "share":
        return min(max(v, 0.0), 1.0)
    if kind == "flag":
        return 1.0 if v > 0.5 else 0.0
    return min(max(v, 0.0), 10.0)


def transform(x: Features, names: tuple[str, ...] = NAMES) -> Features:
    """The bounded, log-compressed view of ``x`` over ``names`` (missing → neutral)."""
    out: Features = {}
    for name in names:
        kind, neutral = SPEC[name]
        derive = DERIVED.get(name)
        out[name] = _one(kind, derive(x) if derive is not None else x.get(name, neutral))
    return out
