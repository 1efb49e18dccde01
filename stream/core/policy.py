"""Policy: what to do about what the detector measures — limits, score thresholds,
escalation, TTLs, the allowlist.

Detection (what the windows and the model measure) is separate from policy (what to do
about it). :meth:`Policy.evaluate` is a pure function of the actor's state that answers
the action the policy asks for and the reasons, each with the measured value and the
threshold. The policy file is read and checked by :mod:`stream.core.policy_loader`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stream.core.actions import Action
from stream.core.actor_state import ActorState
from stream.core.allowlist import Allowlist
from stream.core.automation import (
    CRAWLER_SIGNS,
    PAGE_RUNS,
    REGULAR_RUN_CV,
    automation_signals,
    metronome_pages,
    rapid_pages,
    shows_crawler,
)

METRICS = (
    "requests_per_minute",
    "requests_per_hour",
    "requests_per_day",
    "profiles_per_hour",
    "profiles_per_day",
    "errors_per_hour",
    "ips_per_hour",
)


class PolicyError(ValueError):
    """The policy file is missing, not TOML, or does not fit the schema."""


# every metric is at most the requests of its window: below a limit's lowest threshold
# there, the metric need not be computed (a fast path for the many quiet actors)
_BOUNDED_BY_DAY = frozenset({"requests_per_day", "profiles_per_day"})


@dataclass(frozen=True, slots=True)
class Limit:
    metric: str
    challenge: float | None
    block: float | None
    floor: float = 0.0  # the lowest threshold (set by the loader)


@dataclass(frozen=True, slots=True)
class GroupLimit:
    """Accounts per IP or per subnet (an hour), with a minimum of profile views."""

    challenge: int
    min_profile_views_per_hour: int


@dataclass(frozen=True)
class Groups:
    accounts_per_ip: GroupLimit | None = None
    accounts_per_subnet: GroupLimit | None = None
    signal_ttl_s: float = 3600.0
    # a member of a flagged group is challenged only on its own evidence: its score, from
    # at least this many profile views of its own in the hour (a score from a handful of
    # requests says little)
    member_min_score: float = 0.85
    member_min_profiles_per_hour: int = 10
    # ... and a sign of automation, or without one a score above this (a farm's members
    # all look automated; an office's busiest people reach the low 0.9s)
    member_challenge_alone: float = 0.99
    # ... or without one a score of member_min_score when at least this share of the
    # group's accounts score member_min_score or more: evidence of the group as a whole
    # (a farm's accounts all score high, an office's few do; 0 = off;
    # internal_records.group_share counts it)
    member_share_alone: float = 0.5
    # profile views an hour from one address (an IPv6 /64) by sessions in their first
    # requests, when they are at least half its views (NEW_SESSIONS_SHARE): challenge or
    # block the address itself (a logged-out scraper dropping its cookie every request)
    new_session_views_per_ip: Limit | None = None

    def mostly_high(self, share: float) -> bool:
        """Whether ``share`` of a group's accounts scoring ``member_min_score`` or more is
        enough for its members to need no sign (``member_share_alone``)."""
        return 0 < self.member_share_alone <= share


@dataclass(frozen=True)
class Verdict:
    action: Action
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    limits: tuple[Limit, ...]
    new_account_max_age_days: float
    new_account_limits: tuple[Limit, ...]
    score_challenge: float
    score_min_requests_per_hour: int
    score_min_profiles_per_hour: int
    score_require_one_of: tuple[str, ...]
    block_after_challenge_views: int
    ttl_challenge_s: float
    ttl_block_s: float
    renew_before_s: float
    allowlist: Allowlist = field(default_factory=Allowlist)
    groups: Groups = field(default_factory=Groups)
    shadow: bool = False
    source: str = "<default>"
    # scoring (stream.core.scoring): when an actor is scored, who teaches the model
    score_min_events: int = 10
    score_interval_s: float = 300.0
    learn_sample_rate: float = 1.0
    random_challenge_rate: float = 0.0
    # a score above this challenges without a sign (past the gates); 1.0 = never
    score_challenge_alone: float = 1.0
    # the floors of the paths below the gates (page_run, crawler_signs); 0 = off
    score_regular_min_profiles_per_hour: int = 0
    score_crawler_min_profiles_per_day: int = 0
    # stricter limits while an actor shows itself a crawler (automation.shows_crawler: one
    # user agent, which names a crawler, or no browser's that read robots.txt lately)
    crawler_limits: tuple[Limit, ...] = ()

    def ttl_s(self, action: Action) -> float:
        return self.ttl_block_s if action == Action.BLOCK else self.ttl_challenge_s

    def score_eligible(self, state: ActorState) -> bool:
        """Enough evidence for the model's score to matter (see ``[score]``)."""
        c = state.counters
        return (
            c.requests_per_hour >= self.score_min_requests_per_hour
            and c.profiles_per_hour >= self.score_min_profiles_per_hour
        )

    def page_run(self, state: ActorState) -> str:
        """Evidence below the gates, from ``regular_min_profiles_per_hour`` profile views
        in the hour: the first of :attr:`page_runs` that ``state`` shows (``"regular"``:
        ``regular_pages`` at a stricter spread; ``"rapid"``: ``rapid_pages``), or ``""``."""
        floor = self.regular_run_floor
        if floor <= 0 or state.counters.profiles_per_hour < floor:
            return ""
        b = state.behaviour
        for run in self.page_runs:
            if metronome_pages(b, REGULAR_RUN_CV) if run == "regular" else rapid_pages(b):
                return run
        return ""

    @property
    def page_runs(self) -> tuple[str, ...]:
        """The runs of :meth:`page_run` whose signs the policy takes (PAGE_RUNS)."""
        signs = self.score_require_one_of
        return tuple(run for run, sign in PAGE_RUNS if not signs or sign in signs)

    @property
    def regular_run_floor(self) -> int:
        """The floor of :meth:`page_run`; 0 when that path is off."""
        return self.score_regular_min_profiles_per_hour if self.page_runs else 0

    def crawler_signs(self, state: ActorState) -> list[str]:
        """Below the gates, for a crawler of profiles that keeps under the hourly gates:
        the :data:`~stream.core.automation.CRAWLER_SIGNS` the policy takes that ``state``
        shows, once it has viewed ``crawler_min_profiles_per_day`` profiles in the day."""
        names = self.crawler_sign_names
        floor = self.score_crawler_min_profiles_per_day
        if floor <= 0 or not names:
            return []
        shown = automation_signals(state.counters, state.behaviour, names)
        if not shown or state.counters.profiles_per_day < floor:
            return []
        return shown

    @property
    def crawler_sign_names(self) -> tuple[str, ...]:
        """The :data:`~stream.core.automation.CRAWLER_SIGNS` this policy accepts (all of
        them when ``require_one_of`` is empty)."""
        names = self.score_require_one_of
        return tuple(n for n in CRAWLER_SIGNS if not names or n in names)

    @property
    def crawler_floor(self) -> int:
        """The floor of :meth:`crawler_signs`; 0 when that path is off."""
        return self.score_crawler_min_profiles_per_day if self.crawler_sign_names else 0

    def inert_settings(self) -> list[str]:
        """Settings this policy gives a value that cannot take effect, each with why: a
        floor of a path below the gates whose sign ``require_one_of`` leaves out,
        ``require_one_of`` past the gates when ``challenge_alone`` is not above
        ``challenge``, and ``challenge_alone`` where no score ever lacks a sign. Valid, but
        likely a mistake (``scrapeguard policy check`` shows them; the worker logs them at
        start)."""
        out = []
        signs = self.score_require_one_of
        if self.score_regular_min_profiles_per_hour and not self.regular_run_floor:
            out.append(
                f"[score] regular_min_profiles_per_hour = "
                f"{self.score_regular_min_profiles_per_hour} has no effect: require_one_of "
                "leaves out regular_pages and rapid_pages (set it to 0 to say so)"
            )
        if self.score_crawler_min_profiles_per_day and not self.crawler_floor:
            out.append(
                f"[score] crawler_min_profiles_per_day = "
                f"{self.score_crawler_min_profiles_per_day} has no effect: require_one_of "
                f"leaves out {', '.join(CRAWLER_SIGNS)} (set it to 0 to say so)"
            )
        if signs and self.score_challenge_alone <= self.score_challenge:
            out.append(
                f"[score] require_one_of has no effect past the gates: challenge_alone = "
                f"{self.score_challenge_alone:g} is not above challenge = "
                f"{self.score_challenge:g}, so a score past the gates acts without a sign "
                "(set challenge_alone = 1.0 for never)"
            )
        if not signs and self.score_challenge_alone < 1.0:
            out.append(
                f"[score] challenge_alone = {self.score_challenge_alone:g} has no effect: "
                "require_one_of is empty, so the score acts past the gates without a sign "
                "from challenge on"
            )
        return out

    def score_reason(self, state: ActorState, score: float) -> str:
        """Why ``score`` challenges ``state`` (``""`` when it does not): with enough
        evidence, above ``challenge`` with a sign of automation (when the policy asks for
        one), or above ``challenge_alone`` without one; below the gates, above
        ``challenge`` on a run of pages (:meth:`page_run`) or from a crawler
        that shows itself and has viewed a day's floor of profiles (:meth:`crawler_signs`)."""
        if score <= self.score_challenge:
            return ""
        if not self.score_eligible(state):
            run = self.page_run(state)
            if run:
                return (
                    f"anomaly_score {score:.3f} > {self.score_challenge:g} with a {run} run "
                    "of pages below the gates"
                )
            signs = self.crawler_signs(state)
            if signs:
                return (
                    f"anomaly_score {score:.3f} > {self.score_challenge:g} with "
                    f"{', '.join(signs)} and {state.counters.profiles_per_day} profiles in "
                    "the day below the gates"
                )
            return ""
        signals = automation_signals(state.counters, state.behaviour, self.score_require_one_of)
        if signals or not self.score_require_one_of:
            why = f" with {', '.join(signals)}" if signals else ""
            return f"anomaly_score {score:.3f} > {self.score_challenge:g}{why}"
        if score > self.score_challenge_alone:
            return f"anomaly_score {score:.3f} > {self.score_challenge_alone:g}"
        return ""

    def member_reason(self, state: ActorState, ts: float) -> str:
        """Why the flagged group ``state`` belongs to challenges it (``""`` when it does
        not): a flagged group (an office NAT full of people, a carrier's /24) challenges
        only the members whose own behaviour looks automated — a score of at least
        ``member_min_score`` over ``member_min_profiles_per_hour`` profile views of their
        own and above ``challenge``, with a sign of automation that ``require_one_of``
        accepts; without one, above ``member_challenge_alone`` (and ``challenge``), or when
        the group as a whole scores high (``member_share_alone``): an office's people
        rarely do together, even where one busy person does."""
        group, groups, score = state.group_flag(ts), self.groups, state.score
        if (
            not group
            or score < groups.member_min_score
            or score <= self.score_challenge
            or state.counters.profiles_per_hour < groups.member_min_profiles_per_hour
        ):
            return ""
        names = self.score_require_one_of
        signs = automation_signals(state.counters, state.behaviour, names) if names else []
        if signs:
            return f"{group} with anomaly_score {score:.3f} and {', '.join(signs)}"
        share = state.group_share_at(ts)
        if names and groups.mostly_high(share):  # the group's own evidence
            high = f"{share:.0%} of its accounts scoring {groups.member_min_score:g}+"
            return f"{group} with anomaly_score {score:.3f} and {high}"
        if not names or score > self.member_bars()[1]:
            return f"{group} with anomaly_score {score:.3f}"
        return ""

    def member_bars(self, share: float = 0.0) -> tuple[float, float]:
        """The scores a member of a flagged group needs (:meth:`member_reason`): with a
        sign of automation, and without one (when ``require_one_of`` asks for a sign) —
        lower when ``share`` of the group's accounts score high (``member_share_alone``).
        A score must be above the second, and at least the first."""
        groups = self.groups
        with_sign = max(groups.member_min_score, self.score_challenge)
        if groups.mostly_high(share):
            return with_sign, self.score_challenge  # and at least member_min_score, as ever
        return with_sign, max(groups.member_challenge_alone, self.score_challenge)

    def is_young(self, state: ActorState, ts: float) -> bool:
        """A new account at ``ts``: the ``[new_account]`` limits apply."""
        age = state.counters.account_age_days(ts)
        return age is not None and age < self.new_account_max_age_days

    def is_crawler(self, state: ActorState) -> bool:
        """A crawler that shows itself (:func:`~stream.core.automation.shows_crawler`) and
        is not allowlisted (checked before :meth:`evaluate` too): the ``[crawlers]``
        limits apply."""
        return (
            bool(self.crawler_limits)
            and not state.allowlisted
            and shows_crawler(state.counters, state.behaviour)
        )

    def limits_for(self, young: bool, crawler: bool) -> tuple[Limit, ...]:
        """The limits in force for a new account (``young``) and for a crawler."""
        limits = self.limits
        if young:
            limits = limits + self.new_account_limits
        if crawler:
            limits = limits + self.crawler_limits
        return limits

    def evaluate(self, state: ActorState, ts: float, active_action: Action) -> Verdict:
        """The action the policy asks for now, and why.

        ``active_action`` is the action in force at ``ts`` (after expiry), used for
        graduated escalation: a challenged actor that keeps going is blocked.
        """
        action = Action.ALLOW
        reasons: list[str] = []
        counters = state.counters
        young = self.is_young(state, ts)
        crawler = self.is_crawler(state)
        limits = self.limits_for(young, crawler)
        per_hour, per_day = counters.hour.total(0), counters.day.total(0)
        floor_hour, floor_day = _floors(self)[young]
        if not crawler and per_hour <= floor_hour and per_day <= floor_day:
            limits = ()  # every metric is below every threshold (the many quiet actors)
        for limit in limits:
            bound = per_day if limit.metric in _BOUNDED_BY_DAY else per_hour
            if bound <= limit.floor:
                continue  # the metric cannot exceed a threshold yet
            value = getattr(counters, limit.metric)
            if limit.block is not None and value > limit.block:
                action = Action.BLOCK
                reasons.append(_reason(limit.metric, value, limit.block, young, limit, self))
            elif limit.challenge is not None and value > limit.challenge:
                action = max(action, Action.CHALLENGE)
                reasons.append(_reason(limit.metric, value, limit.challenge, young, limit, self))
        member_reason = self.member_reason(state, ts)
        if member_reason:
            action = max(action, Action.CHALLENGE)
            reasons.append(member_reason)
        score_reason = self.score_reason(state, state.score)
        if score_reason:
            action = max(action, Action.CHALLENGE)
            reasons.append(score_reason)
        if active_action == Action.CHALLENGE:
            after = counters.views - state.enforcement.views_at_action
            if after > self.block_after_challenge_views:
                action = Action.BLOCK
                reasons.append(
                    f"profile_views_after_challenge {after} > {self.block_after_challenge_views}"
                )
        if not reasons:
            return _ALLOW  # action is ALLOW: every other branch gives a reason
        return Verdict(action, tuple(reasons))


_ALLOW = Verdict(Action.ALLOW, ())
# id(policy) -> (policy, its floors): a few policies live at a time (reloads, tests)
_FLOORS: dict[int, tuple[Policy, tuple[tuple[float, float], tuple[float, float]]]] = {}


def _floors(policy: Policy) -> tuple[tuple[float, float], tuple[float, float]]:
    """The lowest thresholds of the limits bounded by the hour's and by the day's
    requests, for ``(established, young)`` accounts: below both, no limit can fire."""
    hit = _FLOORS.get(id(policy))
    if hit is not None and hit[0] is policy:
        return hit[1]

    def lowest(limits: tuple[Limit, ...]) -> tuple[float, float]:
        hour = [lim.floor for lim in limits if lim.metric not in _BOUNDED_BY_DAY]
        day = [lim.floor for lim in limits if lim.metric in _BOUNDED_BY_DAY]
        return min(hour, default=float("inf")), min(day, default=float("inf"))

    floors = lowest(policy.limits), lowest(policy.limits + policy.new_account_limits)
    if len(_FLOORS) >= 64:
        _FLOORS.clear()
    _FLOORS[id(policy)] = (policy, floors)
    return floors


def _reason(
    metric: str, value: float, threshold: float, young: bool, limit: Limit, policy: Policy
) -> str:
    if any(limit is lim for lim in policy.crawler_limits):
        prefix = "crawler_"
    elif young and any(limit is lim for lim in policy.new_account_limits):
        prefix = "new_account_"
    else:
        prefix = ""
    return f"{prefix}{metric} {value:g} > {threshold:g}"
