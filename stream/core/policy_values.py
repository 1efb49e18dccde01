"""The checks of a policy file's values: each takes a value as TOML gave it and returns it
checked (and converted), or raises ValueError with a sentence that says what it must be.
:mod:`stream.core.policy_loader` names one per key in its schema and adds the file and line.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from stream.core.actor_ref import normalise_network, parse_actor
from stream.core.allowlist import Crawler, IPNetwork
from stream.core.automation import SIGNALS
from stream.core.policy import GroupLimit

Check = Callable[[Any], Any]  # returns the checked value or raises ValueError (a sentence)


def number(lo: float | None = None, hi: float | None = None, *, above: bool = False) -> Check:
    """A number (not a boolean) within ``lo``..``hi`` (strictly above ``lo`` with ``above``)."""

    def check(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ValueError(f"must be a number, not {show(v)}")
        if not math.isfinite(v):  # TOML has nan and inf; NaN passes every comparison
            raise ValueError(f"must be a finite number, not {v}")
        if lo is not None and (v <= lo if above else v < lo):
            raise ValueError(f"must be {'above' if above else 'at least'} {lo:g}, not {v:g}")
        if hi is not None and v > hi:
            raise ValueError(f"must be at most {hi:.12g}, not {v:g}")
        return float(v)

    return check


def integer(lo: int = 0) -> Check:
    def check(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValueError(f"must be a whole number, not {show(v)}")
        if v < lo:
            raise ValueError(f"must be at least {lo}, not {v}")
        return v

    return check


def boolean(v: Any) -> bool:
    if not isinstance(v, bool):
        raise ValueError(f"must be true or false (no quotes), not {show(v)}")
    return v


def limit(v: Any) -> tuple[float | None, float | None] | None:
    """``{ challenge = N, block = M }`` (either may be left out); ``{}`` means off."""
    if not isinstance(v, dict):
        raise ValueError(f"must be {{ challenge = N, block = M }}, not {show(v)}")
    unknown = set(v) - {"challenge", "block"}
    if unknown:
        raise ValueError(f"has unknown entries {sorted(unknown)}; known: challenge, block")
    if not v:
        return None
    challenge, block = (number(0)(v[k]) if k in v else None for k in ("challenge", "block"))
    if challenge is not None and block is not None and block < challenge:
        raise ValueError(
            f"block ({block:g}) is below challenge ({challenge:g}); challenge must come first"
        )
    return challenge, block


def group_limit(v: Any) -> GroupLimit | None:
    """``{ challenge = N, min_profile_views_per_hour = M }``; ``{}`` means off."""
    shape = "{ challenge = N, min_profile_views_per_hour = M }"
    if not isinstance(v, dict) or (v and set(v) != {"challenge", "min_profile_views_per_hour"}):
        raise ValueError(f"must be {shape} (or {{}} for off), not {show(v)}")
    if not v:
        return None
    return GroupLimit(integer(0)(v["challenge"]), integer(0)(v["min_profile_views_per_hour"]))


def strings(v: Any) -> tuple[str, ...]:
    if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
        raise ValueError(f"must be a list of strings, not {show(v)}")
    return tuple(v)


def signals(v: Any) -> tuple[str, ...]:
    names = strings(v)
    wrong = [n for n in names if n not in SIGNALS]
    if wrong:
        raise ValueError(f"has unknown signs {wrong}; known: {', '.join(SIGNALS)}")
    return names


def cidrs(v: Any) -> tuple[IPNetwork, ...]:
    try:  # an IPv4-mapped range as its IPv4 range, as events name those clients
        return tuple(normalise_network(c) for c in strings(v))
    except ValueError as exc:
        raise ValueError(f"must be a list of CIDR ranges: {exc}") from None


def actor_names(v: Any) -> tuple[str, ...]:
    """Actors as the detector names them (``ip:::ffff:198.51.100.9`` is
    ``ip:198.51.100.9``, ``ip:2001:DB8::1`` is ``ip:2001:db8::1``); a name that is no
    actor stays as written (it matches nothing)."""
    out = []
    for name in strings(v):
        try:
            out.append(parse_actor(name).key)
        except ValueError:
            out.append(name)
    return tuple(out)


def regexes(v: Any) -> re.Pattern[str] | None:
    patterns = strings(v)
    try:
        return re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None
    except re.error as exc:
        raise ValueError(f"has a bad regular expression: {exc}") from None


def crawlers(v: Any) -> tuple[Crawler, ...]:
    shape = "[[allowlist.crawler]] tables with user_agent = '...' and ip_ranges = [...]"
    if not isinstance(v, list) or not all(
        isinstance(c, dict) and set(c) == {"user_agent", "ip_ranges"} for c in v
    ):
        raise ValueError(f"must be {shape}")
    out = []
    for c in v:
        pattern = regexes([c["user_agent"]]) if isinstance(c["user_agent"], str) else None
        if pattern is None:
            raise ValueError("crawler user_agent must be a regular expression (a string)")
        out.append(Crawler(pattern, cidrs(c["ip_ranges"])))
    return tuple(out)


def show(v: Any) -> str:
    if isinstance(v, str):
        return f"the string {v!r}"
    if isinstance(v, dict):
        return "a table"
    if isinstance(v, list):
        return "a list"
    return repr(v).lower() if isinstance(v, bool) else repr(v)
