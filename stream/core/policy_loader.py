"""Reading and checking a policy file (TOML) into a :class:`~stream.core.policy.Policy`.

Every mistake is a :class:`~stream.core.policy.PolicyError` naming the file and the entry.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from stream.core.allowlist import Allowlist, Crawler, IPNetwork
from stream.core.automation import SIGNALS
from stream.core.policy import METRICS, GroupLimit, Groups, Limit, Policy, PolicyError

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
    if not isinstance(names, list) or not all(n in SIGNALS for n in names):
        raise PolicyError(f"[score] require_one_of must list some of: {', '.join(SIGNALS)}")
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
