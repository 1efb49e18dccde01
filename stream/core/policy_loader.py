"""Reading and checking a policy file (TOML) into a :class:`~stream.core.policy.Policy`.

The loader is driven by one table, :data:`SCHEMA`: section → key → what the value must
be. A new policy key is one line there (and a field of :class:`Policy`). Checking is
strict: an unknown section or key, a value of the wrong type (``shadow = "false"`` is
not a boolean) or out of range is a mistake, and every mistake is reported at once in a
:class:`~stream.core.policy.PolicyError`, each with its file and line.

A policy file **overrides the packaged defaults key by key** (a deep merge): a file with
only ``[limits] requests_per_minute = { challenge = 100 }`` keeps every other default.
What is replaced whole: one limit (``metric = { challenge = N, block = M }``; ``metric =
{}`` switches a default limit off), one group limit, and a list (the allowlist's entries,
``require_one_of``).
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from stream.core.allowlist import Allowlist
from stream.core.internal_records import NEW_SESSIONS_METRIC
from stream.core.policy import METRICS, Groups, Limit, Policy, PolicyError
from stream.core.policy_values import (
    Check,
    actor_names,
    boolean,
    cidrs,
    crawlers,
    group_limit,
    integer,
    limit,
    number,
    regexes,
    signals,
)
from stream.core.records import MAX_TTL_S

DEFAULT_POLICY = "policy.default.toml"


def default_policy_text() -> str:
    return resources.files("stream.core").joinpath(DEFAULT_POLICY).read_text()


# -- the schema: section → key → check ("" is the top level) --------------------------------
SCHEMA: dict[str, dict[str, Check]] = {
    "": {"shadow": boolean},
    "limits": dict.fromkeys(METRICS, limit),
    "new_account": {"max_age_days": number(0), **dict.fromkeys(METRICS, limit)},
    "crawlers": dict.fromkeys(METRICS, limit),
    "groups": {
        "accounts_per_ip": group_limit,
        "accounts_per_subnet": group_limit,
        "new_session_views_per_ip": limit,
        "signal_ttl_s": number(0, MAX_TTL_S, above=True),
        "member_min_score": number(0, 1),
        "member_min_profiles_per_hour": integer(0),
        "member_challenge_alone": number(0, 1),
        "member_share_alone": number(0, 1),
    },
    "score": {
        "challenge": number(0, 1),
        "challenge_alone": number(0, 1),
        "min_requests_per_hour": integer(0),
        "min_profiles_per_hour": integer(0),
        "regular_min_profiles_per_hour": integer(0),
        "crawler_min_profiles_per_day": integer(0),
        "require_one_of": signals,
        "min_events": integer(1),
        "interval_s": number(0, MAX_TTL_S),
        "learn_sample_rate": number(0, 1),
        "random_challenge_rate": number(0, 1),
    },
    "escalation": {"block_after_challenge_views": integer(0)},
    "ttl": {
        "challenge_s": number(0, MAX_TTL_S, above=True),
        "block_s": number(0, MAX_TTL_S, above=True),
        "renew_before_s": number(0),
    },
    "allowlist": {
        "actors": actor_names,
        "ip_ranges": cidrs,
        "user_agents": regexes,
        "crawler": crawlers,
    },
}


# -- reading ----------------------------------------------------------------------------------
def load_policy(path: Path | None = None) -> Policy:
    """Read a policy file over the packaged defaults (the defaults alone when ``path`` is None)."""
    return parse_policy(read_policy_text(path), source=str(path) if path else "<default>")


def read_policy_text(path: Path | None) -> str:
    if path is None:
        return default_policy_text()
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise PolicyError(f"cannot read policy file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError:
        raise PolicyError(f"{path}: not a text file (UTF-8)") from None


def parse_policy(text: str, source: str = "<string>", *, defaults: bool = True) -> Policy:
    """``text`` over the packaged defaults (``defaults=False``: ``text`` must be complete)."""
    doc = _toml(text, source)
    merged = merge(_toml(default_policy_text(), "<default>"), doc) if defaults else doc
    values, errors = check(merged, text, source)
    ttl = values["ttl"]
    if not errors and ttl.get("renew_before_s", 600.0) >= min(
        ttl.get("challenge_s", 3600.0), ttl.get("block_s", 86400.0)
    ):
        at = _Where(text, source).at("ttl", "renew_before_s")
        errors.append(f"{at}: [ttl] renew_before_s must be shorter than every TTL")
    if errors:
        raise PolicyError("\n".join(sorted(errors, key=_line_number)))
    return _build(values, source)


def _toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{source}: not valid TOML: {exc}") from None


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` on ``base`` section by section, key by key (sections merge, values replace)."""
    out = dict(base)
    for key, value in over.items():
        if key in SCHEMA and key and isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


@dataclass(frozen=True)
class _Where:
    text: str
    source: str

    def at(self, section: str, key: str | None) -> str:
        line = line_of(self.text, section, key)
        return f"{self.source}:{line}" if line else self.source


def check(
    doc: dict[str, Any], text: str, source: str
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Every value checked against :data:`SCHEMA`; the mistakes, each with the line of
    ``text`` where it is (the packaged defaults merged into ``doc`` are valid: tested)."""
    where = _Where(text, source)
    errors: list[str] = []
    values: dict[str, dict[str, Any]] = {section: {} for section in SCHEMA}
    sections = sorted(s for s in SCHEMA if s)
    for key, value in doc.items():
        if key in SCHEMA and key:
            if not isinstance(value, dict):
                errors.append(f"{where.at('', key)}: {key} must be a [{key}] section")
                continue
            for sub, v in value.items():
                _one(values, errors, where, key, sub, v)
        elif key in SCHEMA[""]:
            _one(values, errors, where, "", key, value)
        else:
            known = sections + sorted(SCHEMA[""])
            errors.append(
                f"{where.at('', key)}: unknown section or key {key!r}{_did_you_mean(key, known)}"
                f"; known: {', '.join(known)}"
            )
    return values, errors


def _one(
    values: dict[str, dict[str, Any]],
    errors: list[str],
    where: _Where,
    section: str,
    key: str,
    value: Any,
) -> None:
    spec = SCHEMA[section].get(key)
    label = f"[{section}] {key}" if section else key
    if spec is None:
        known = sorted(SCHEMA[section])
        errors.append(
            f"{where.at(section, key)}: [{section}] unknown key {key!r}"
            f"{_did_you_mean(key, known)}; known: {', '.join(known)}"
        )
        return
    try:
        values[section][key] = spec(value)
    except ValueError as exc:
        errors.append(f"{where.at(section, key)}: {label} {exc}")


def _line_number(error: str) -> int:
    """Mistakes in file order (those without a line first)."""
    found = re.match(r"[^\n]*?:(\d+): ", error)
    return int(found.group(1)) if found else 0


def _did_you_mean(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


_HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\"' -]+?)\s*\]\]?\s*(#.*)?$")


def line_of(text: str, section: str, key: str | None) -> int | None:
    """The line (1-based) of ``key`` in ``[section]`` of a TOML text (tomllib keeps no
    positions): the header's line when ``key`` is None; None when not found there."""
    current = ""
    key_re = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=") if key else None
    for n, line in enumerate(text.splitlines(), 1):
        header = _HEADER.match(line)
        if header:
            current = header.group(1).replace('"', "").replace("'", "").strip()
            if key is None and current == section:
                return n
            if key is not None and current in (key, f"{section}.{key}"):
                return n  # a table where a value was expected, or a sub-table
            continue
        if key_re is not None and key_re.match(line):
            top = current.split(".")[0]
            if top == section or (section == "" and current == ""):
                return n
    return None


def limit_of(metric: str, spec: tuple[float | None, float | None]) -> Limit:
    """A checked ``{ challenge, block }`` as a :class:`Limit`, with its lowest threshold."""
    challenge, block = spec
    floor = min(x for x in (challenge, block) if x is not None)
    return Limit(metric, challenge, block, floor)


def _build(v: dict[str, dict[str, Any]], source: str) -> Policy:
    def limits(section: str, skip: tuple[str, ...] = ()) -> tuple[Limit, ...]:
        out = []
        for metric in METRICS:  # a stable order, whatever the file's
            spec = v[section].get(metric)
            if metric in skip or spec is None:
                continue
            out.append(limit_of(metric, spec))
        return tuple(out)

    score, ttl, allow, groups = v["score"], v["ttl"], v["allowlist"], v["groups"]
    sessions = groups.get("new_session_views_per_ip")
    policy = Policy(
        groups=Groups(
            groups.get("accounts_per_ip"),
            groups.get("accounts_per_subnet"),
            groups.get("signal_ttl_s", 3600.0),
            groups.get("member_min_score", 0.85),
            groups.get("member_min_profiles_per_hour", 10),
            groups.get("member_challenge_alone", 0.99),
            groups.get("member_share_alone", 0.5),
            None if sessions is None else limit_of(NEW_SESSIONS_METRIC, sessions),
        ),
        limits=limits("limits"),
        new_account_max_age_days=v["new_account"].get("max_age_days", 0.0),
        new_account_limits=limits("new_account"),
        crawler_limits=limits("crawlers"),
        score_challenge=score.get("challenge", 1.0),
        score_min_requests_per_hour=score.get("min_requests_per_hour", 0),
        score_min_profiles_per_hour=score.get("min_profiles_per_hour", 0),
        score_require_one_of=score.get("require_one_of", ()),
        score_min_events=score.get("min_events", 10),
        score_interval_s=score.get("interval_s", 300.0),
        learn_sample_rate=score.get("learn_sample_rate", 1.0),
        random_challenge_rate=score.get("random_challenge_rate", 0.0),
        score_challenge_alone=score.get("challenge_alone", 1.0),
        score_regular_min_profiles_per_hour=score.get("regular_min_profiles_per_hour", 0),
        score_crawler_min_profiles_per_day=score.get("crawler_min_profiles_per_day", 0),
        block_after_challenge_views=v["escalation"].get("block_after_challenge_views", 100),
        ttl_challenge_s=ttl.get("challenge_s", 3600.0),
        ttl_block_s=ttl.get("block_s", 86400.0),
        renew_before_s=ttl.get("renew_before_s", 600.0),
        allowlist=Allowlist(
            actors=frozenset(allow.get("actors", ())),
            ip_ranges=allow.get("ip_ranges", ()),
            user_agents=allow.get("user_agents"),
            crawlers=allow.get("crawler", ()),
        ),
        shadow=v[""].get("shadow", False),
        source=source,
    )
    return policy
