"""Policy: limits, score thresholds, escalation, TTLs, allowlist — from a TOML file.

Detection (what the windows and the model measure) is separate from policy (what
to do about it). :func:`load_policy` reads and checks the file; :meth:`Policy.evaluate`
is a pure function of the actor's state that answers the action the policy asks for
and the reasons, each with the measured value and the threshold.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from stream.core.actor_state import ActorState
from stream.core.features import AUTOMATION_SIGNALS, automation_signals

METRICS = (
    "requests_per_minute",
    "requests_per_hour",
    "requests_per_day",
    "profiles_per_hour",
    "profiles_per_day",
    "errors_per_hour",
    "ips_per_hour",
)

ALLOW, CHALLENGE, BLOCK = 0, 1, 2
ACTION_WORDS = {
    ALLOW: "allowed",
    CHALLENGE: "challenged (CAPTCHA or re-authentication)",
    BLOCK: "blocked",
}

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


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


@dataclass(frozen=True, slots=True)
class Crawler:
    """A declared crawler: user-agent pattern that only counts from its own IP ranges."""

    user_agent: re.Pattern[str]
    ip_ranges: tuple[IPNetwork, ...]


@dataclass(frozen=True)
class Allowlist:
    actors: frozenset[str] = frozenset()
    ip_ranges: tuple[IPNetwork, ...] = ()
    user_agents: re.Pattern[str] | None = None
    crawlers: tuple[Crawler, ...] = ()

    def matches(self, actor: str, ip: str | None, user_agent: str) -> bool:
        if actor in self.actors:
            return True
        if self.user_agents is not None and user_agent and self.user_agents.search(user_agent):
            return True
        if ip is None:
            return False
        if self.ip_ranges and _in_ranges(ip, self.ip_ranges):
            return True
        return any(
            c.user_agent.search(user_agent) and _in_ranges(ip, c.ip_ranges) for c in self.crawlers
        )


@lru_cache(maxsize=65536)
def _in_ranges(ip: str, ranges: tuple[IPNetwork, ...]) -> bool:
    addr = ipaddress.ip_address(ip)
    return any(addr in net for net in ranges)


@dataclass(frozen=True)
class Verdict:
    action: int
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

    def ttl_s(self, action: int) -> float:
        return self.ttl_block_s if action == BLOCK else self.ttl_challenge_s

    def score_eligible(self, state: ActorState) -> bool:
        """Enough evidence for the model's score to matter (see ``[score]``)."""
        return (
            state.requests_per_hour >= self.score_min_requests_per_hour
            and state.profiles_per_hour >= self.score_min_profiles_per_hour
        )

    def score_reason(self, state: ActorState, score: float) -> str:
        """Why ``score`` challenges ``state`` (``""`` when it does not): above the threshold,
        with enough evidence and, when the policy asks, a sign of automation."""
        if score <= self.score_challenge or not self.score_eligible(state):
            return ""
        signals = automation_signals(state, self.score_require_one_of)
        if self.score_require_one_of and not signals:
            return ""
        why = f" with {', '.join(signals)}" if signals else ""
        return f"anomaly_score {score:.3f} > {self.score_challenge:g}{why}"

    def evaluate(self, state: ActorState, ts: float, active_action: int) -> Verdict:
        """The action the policy asks for now, and why.

        ``active_action`` is the action in force at ``ts`` (after expiry), used for
        graduated escalation: a challenged actor that keeps going is blocked.
        """
        action = ALLOW
        reasons: list[str] = []
        limits = self.limits
        age = state.account_age_days(ts)
        if age is not None and age < self.new_account_max_age_days:
            limits = limits + self.new_account_limits
            young = True
        else:
            young = False
        per_hour, per_day = state.hour.totals[0], state.day.totals[0]
        for limit in limits:
            bound = per_day if limit.metric in _BOUNDED_BY_DAY else per_hour
            if bound <= limit.floor:
                continue  # the metric cannot exceed a threshold yet
            value = getattr(state, limit.metric)
            if limit.block is not None and value > limit.block:
                action = BLOCK
                reasons.append(_reason(limit.metric, value, limit.block, young, limit, self))
            elif limit.challenge is not None and value > limit.challenge:
                action = max(action, CHALLENGE)
                reasons.append(_reason(limit.metric, value, limit.challenge, young, limit, self))
        group = state.group_flag(ts)
        if group:
            action = max(action, CHALLENGE)
            reasons.append(group)
        score_reason = self.score_reason(state, state.score)
        if score_reason:
            action = max(action, CHALLENGE)
            reasons.append(score_reason)
        if active_action == CHALLENGE:
            after = state.views - state.views_at_action
            if after > self.block_after_challenge_views:
                action = BLOCK
                reasons.append(
                    f"profile_views_after_challenge {after} > {self.block_after_challenge_views}"
                )
        return Verdict(action, tuple(reasons))


def _reason(
    metric: str, value: float, threshold: float, young: bool, limit: Limit, policy: Policy
) -> str:
    prefix = "new_account_" if young and limit in policy.new_account_limits else ""
    return f"{prefix}{metric} {value:g} > {threshold:g}"


# -- loading ---------------------------------------------------------------------------
DEFAULT_POLICY = "policy.default.toml"


def default_policy_text() -> str:
    return resources.files("stream.core").joinpath(DEFAULT_POLICY).read_text()


def load_policy(path: Path | None = None) -> Policy:
    """Read a policy file (the packaged default when ``path`` is None)."""
    if path is None:
        return parse_policy(default_policy_text(), source="<default>")
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise PolicyError(f"cannot read policy file {path}: {exc.strerror}") from exc
    return parse_policy(text, source=str(path))


def parse_policy(text: str, source: str = "<string>") -> Policy:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{source}: not valid TOML: {exc}") from exc
    try:
        return _build(doc, source)
    except PolicyError:
        raise
    except (TypeError, ValueError, KeyError, re.error) as exc:
        raise PolicyError(f"{source}: {exc}") from exc


def _limits(table: dict[str, Any], where: str, skip: tuple[str, ...] = ()) -> tuple[Limit, ...]:
    out = []
    for metric, spec in table.items():
        if metric in skip:
            continue
        if metric not in METRICS:
            raise PolicyError(f"[{where}] unknown metric {metric!r}; known: {', '.join(METRICS)}")
        if not isinstance(spec, dict) or not set(spec) <= {"challenge", "block"} or not spec:
            raise PolicyError(f"[{where}] {metric} must be {{ challenge = N, block = M }}")
        challenge, block = spec.get("challenge"), spec.get("block")
        for name, val in (("challenge", challenge), ("block", block)):
            if val is not None and (
                isinstance(val, bool) or not isinstance(val, int | float) or val < 0
            ):
                raise PolicyError(f"[{where}] {metric}.{name} must be a non-negative number")
        if challenge is not None and block is not None and block < challenge:
            raise PolicyError(
                f"[{where}] {metric}: block ({block}) is below challenge "
                f"({challenge}); challenge must come first"
            )
        floor = min(v for v in (challenge, block) if v is not None)
        out.append(Limit(metric, challenge, block, floor))
    return tuple(out)


def _signals(names: Any) -> tuple[str, ...]:
    if not isinstance(names, list) or not all(n in AUTOMATION_SIGNALS for n in names):
        raise PolicyError(
            f"[score] require_one_of must list some of: {', '.join(AUTOMATION_SIGNALS)}"
        )
    return tuple(names)


def _groups(table: dict[str, Any]) -> Groups:
    limits: dict[str, GroupLimit | None] = {}
    for name in ("accounts_per_ip", "accounts_per_subnet"):
        spec = table.get(name)
        if spec is None:
            limits[name] = None
            continue
        if not isinstance(spec, dict) or set(spec) != {"challenge", "min_profile_views_per_hour"}:
            raise PolicyError(
                f"[groups] {name} must be {{ challenge = N, min_profile_views_per_hour = M }}"
            )
        limits[name] = GroupLimit(int(spec["challenge"]), int(spec["min_profile_views_per_hour"]))
    unknown = set(table) - {"accounts_per_ip", "accounts_per_subnet", "signal_ttl_s"}
    if unknown:
        raise PolicyError(f"[groups] unknown entries {sorted(unknown)}")
    return Groups(
        limits["accounts_per_ip"],
        limits["accounts_per_subnet"],
        float(table.get("signal_ttl_s", 3600)),
    )


def _networks(values: Any, where: str) -> tuple[IPNetwork, ...]:
    if not isinstance(values, list):
        raise PolicyError(f"{where} must be a list of CIDR ranges")
    try:
        return tuple(ipaddress.ip_network(v, strict=False) for v in values)
    except ValueError as exc:
        raise PolicyError(f"{where}: {exc}") from exc


def _build(doc: dict[str, Any], source: str) -> Policy:
    known = {"shadow", "limits", "new_account", "groups", "score", "escalation", "ttl", "allowlist"}
    unknown = set(doc) - known
    if unknown:
        raise PolicyError(f"{source}: unknown section(s) {sorted(unknown)}; known: {sorted(known)}")
    new = dict(doc.get("new_account", {}))
    score = doc.get("score", {})
    esc = doc.get("escalation", {})
    ttl = doc.get("ttl", {})
    allow = doc.get("allowlist", {})
    ua = allow.get("user_agents", [])
    crawlers = tuple(
        Crawler(re.compile(c["user_agent"]), _networks(c["ip_ranges"], "[[allowlist.crawler]]"))
        for c in allow.get("crawler", [])
    )
    policy = Policy(
        groups=_groups(doc.get("groups", {})),
        limits=_limits(doc.get("limits", {}), "limits"),
        new_account_max_age_days=float(new.get("max_age_days", 0)),
        new_account_limits=_limits(new, "new_account", skip=("max_age_days",)),
        score_challenge=float(score.get("challenge", 1.0)),
        score_min_requests_per_hour=int(score.get("min_requests_per_hour", 0)),
        score_min_profiles_per_hour=int(score.get("min_profiles_per_hour", 0)),
        score_require_one_of=_signals(score.get("require_one_of", [])),
        block_after_challenge_views=int(esc.get("block_after_challenge_views", 100)),
        ttl_challenge_s=float(ttl.get("challenge_s", 3600)),
        ttl_block_s=float(ttl.get("block_s", 86400)),
        renew_before_s=float(ttl.get("renew_before_s", 600)),
        allowlist=Allowlist(
            actors=frozenset(allow.get("actors", [])),
            ip_ranges=_networks(allow.get("ip_ranges", []), "[allowlist] ip_ranges"),
            user_agents=re.compile("|".join(f"(?:{p})" for p in ua)) if ua else None,
            crawlers=crawlers,
        ),
        shadow=bool(doc.get("shadow", False)),
        source=source,
    )
    if not 0.0 <= policy.score_challenge <= 1.0:
        raise PolicyError(f"{source}: [score] challenge must be within 0..1")
    if policy.ttl_challenge_s <= 0 or policy.ttl_block_s <= 0:
        raise PolicyError(f"{source}: [ttl] values must be positive")
    if policy.renew_before_s >= min(policy.ttl_challenge_s, policy.ttl_block_s):
        raise PolicyError(f"{source}: [ttl] renew_before_s must be shorter than every TTL")
    return policy
