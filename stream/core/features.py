"""Feature vector of an actor, read from its windowed state.

These are the behaviours that separate automated collection from people reading
profiles (all measured over the actor's own event time):

* volume — requests per minute / hour / day, distinct profiles per hour / day;
* breadth — distinct profiles per request (people revisit; scrapers never do) and
  the share of requests that return a profile (people also read feeds, messages…);
* regularity — coefficient of variation of inter-arrival gaps (a scheduler is a
  metronome; people read, pause and come back);
* enumeration — share of consecutive profile ids that differ by 1 or 2;
* errors — share of 4xx/5xx responses (probing, rate-limit hits, deleted profiles);
* tooling — an HTTP-library or headless-browser user agent;
* newness — account age in days, when the platform sends it;
* rhythm — hours of the last day with activity (people sleep; schedulers do not).
"""

from __future__ import annotations

from stream.core.counters import ActorCounters

FEATURE_NAMES = (
    "requests_per_minute",
    "requests_per_hour",
    "requests_per_day",
    "profiles_per_hour",
    "profiles_per_day",
    "distinct_ratio",
    "profile_share",
    "error_ratio",
    "gap_cv",
    "mean_gap_s",
    "enumeration_share",
    "automation_ua",
    "account_age_days",
    "active_hours",
)

UNKNOWN_AGE_DAYS = 365.0  # neutral value when the platform does not send account_created_ts


def features(state: ActorCounters, ts: float) -> dict[str, float]:
    req_hour = state.requests_per_hour
    per_req = 1.0 / req_hour if req_hour else 0.0
    profiles_hour = state.profiles_per_hour
    age = state.account_age_days(ts)
    return {
        "requests_per_minute": float(state.requests_per_minute),
        "requests_per_hour": float(req_hour),
        "requests_per_day": float(state.requests_per_day),
        "profiles_per_hour": float(profiles_hour),
        "profiles_per_day": float(state.profiles_per_day),
        "distinct_ratio": min(1.0, profiles_hour * per_req),
        "profile_share": state.views_per_hour * per_req,
        "error_ratio": state.errors_per_hour * per_req,
        "gap_cv": min(state.gap_cv(), 10.0),
        "mean_gap_s": min(state.gap_mean, 3600.0),
        "enumeration_share": state.seq_share,
        "automation_ua": 1.0 if state.automation else 0.0,
        "account_age_days": min(age, UNKNOWN_AGE_DAYS) if age is not None else UNKNOWN_AGE_DAYS,
        "active_hours": float(state.active_hours),
    }
