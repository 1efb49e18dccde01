"""Bytes → :class:`RequestEvent`, or a reason why not.

Checks the request-event contract (``docs/contracts.md``, published as JSON Schema in
``docs/schemas/request-event.schema.json``; ``tests/core/test_schemas.py`` checks that
the two agree): size, JSON, object, version, identity, event time, and the type of
every known field. Unknown fields are kept out of the event (ignored), never an error.
Each failure has a stable reason code, used as a metric label and in the dead-letter
record.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson

from stream.core.actor_ref import normalise_ip
from stream.core.records import RequestEvent

MIN_TS = 946684800.0  # 2000-01-01T00:00:00Z: older event times are absurd for this product
SCHEMA_VERSIONS = (1,)  # request-event contract versions this worker understands
#: default allowance for producers' clocks: an event dated further ahead would move its
#: actor's windows past the actor's real traffic (one event at now + 23 h blinded an actor)
MAX_FUTURE_SKEW_S = 300.0
MAX_FETCH_DEST = 32  # longer than any Sec-Fetch-Dest a browser sends
# "/" separates the tenant in an actor key and control characters forge log lines:
# neither may appear in an identifier that makes up an actor
_NOT_IN_ACTOR_ID = re.compile(r"[\x00-\x1f\x7f-\x9f/]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

REASONS = (
    "too_large",
    "invalid_json",
    "not_object",
    "unsupported_version",
    "missing_identity",
    "missing_field",
    "invalid_field",
    "invalid_ts",
    "ts_out_of_range",
    "ts_in_future",
    "late_event",
)


@dataclass(slots=True)
class Invalid:
    """Why a message was refused: a reason code and a sentence for humans."""

    reason: str
    detail: str


def parse_ts(value: Any) -> float | None:
    """Epoch seconds (int/float) or ISO-8601 (naive means UTC) → epoch seconds."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        ts = float(value)
        return ts if ts == ts and ts not in (float("inf"), float("-inf")) else None
    if isinstance(value, str) and 0 < len(value) <= 64:
        return _parse_iso(value)
    return None


@lru_cache(maxsize=4096)
def _parse_iso(text: str) -> float | None:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _valid_ip(text: str) -> bool:
    """IPv4 or IPv6 text form (``inet_pton`` is C and ~50x faster than ``ipaddress``)."""
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in text else socket.AF_INET, text)
    except (OSError, ValueError):
        return False
    return True


def _bad_chars(text: str, forbidden: re.Pattern[str]) -> bool:
    """Whether ``forbidden`` (``_CONTROL`` or ``_NOT_IN_ACTOR_ID``) occurs in ``text``.

    Printable ASCII (the usual identifier) holds no control character, so only ``/`` is
    left to look for; anything else goes through the regular expression."""
    if text.isascii() and text.isprintable():
        return forbidden is _NOT_IN_ACTOR_ID and "/" in text
    return forbidden.search(text) is not None


def _opt_id(
    doc: dict[str, Any], name: str, forbidden: re.Pattern[str] = _CONTROL
) -> str | Invalid | None:
    """Identifiers may be JSON strings or integers (normalised to strings) or null."""
    value = doc.get(name)
    if value is None:
        return None
    if isinstance(value, str):
        if len(value) > 512:
            return Invalid("invalid_field", f"{name} is longer than 512 characters")
        if _bad_chars(value, forbidden):
            what = "'/' or control" if forbidden is _NOT_IN_ACTOR_ID else "control"
            return Invalid("invalid_field", f"{name} must not contain {what} characters")
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return Invalid("invalid_field", f"{name} must be a string, an integer or null")


def actor_key(
    account_id: str | None, session_id: str | None, ip: str | None, tenant: str | None = None
) -> str | None:
    """The actor: the account where there is one, else the session, else the IP.

    ``tenant/kind:id``: validation refuses ``/`` in tenants and ids, so the first ``/``
    ends the tenant and two (tenant, identity) pairs never share an actor key.
    """
    if account_id is not None:
        key = "account:" + account_id
    elif session_id is not None:
        key = "session:" + session_id
    elif ip is not None:
        key = "ip:" + ip
    else:
        return None
    return key if tenant is None else tenant + "/" + key


def actor_key_of(doc: dict[str, Any]) -> str | None:
    """The actor key of a request-event object, as far as its identifiers allow.

    For producers (``scrapeguard publish``, the harness) that key messages by actor
    before validation; an event whose key is wrong is re-keyed by the worker anyway.
    """
    ids: list[str | None] = []
    for name in ("account_id", "session_id", "ip", "tenant"):
        value = doc.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        ids.append(value if isinstance(value, str) and value else None)
    ip = ids[2]
    if ip is not None and ":" in ip and _valid_ip(ip):
        ids[2] = normalise_ip(ip)  # as the worker names it: no re-keying hop
    return actor_key(*ids)


def validate(
    value: bytes | None,
    *,
    now: float,
    max_bytes: int = 64 * 1024,
    max_future_skew_s: float = MAX_FUTURE_SKEW_S,
) -> RequestEvent | Invalid:
    """Decode and check one message. Never raises for any input bytes."""
    if value is None:
        return Invalid("invalid_json", "message has no value (null/tombstone)")
    if len(value) > max_bytes:
        return Invalid("too_large", f"message is {len(value)} bytes, the limit is {max_bytes}")
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        return Invalid("invalid_json", f"not JSON: {str(exc)[:200]}")
    if not isinstance(doc, dict):
        return Invalid("not_object", f"JSON {type(doc).__name__} is not an object")
    return validate_doc(doc, now=now, max_future_skew_s=max_future_skew_s)


def validate_doc(
    doc: dict[str, Any], *, now: float, max_future_skew_s: float = MAX_FUTURE_SKEW_S
) -> RequestEvent | Invalid:
    """Check a decoded JSON object against the request-event contract."""
    version = doc.get("schema_version", 1)
    if isinstance(version, bool) or version not in SCHEMA_VERSIONS:
        return Invalid(
            "unsupported_version",
            f"schema_version {str(version)[:32]!r} is not one of {list(SCHEMA_VERSIONS)}",
        )
    ids = []
    for name in ("account_id", "session_id", "tenant"):
        got = _opt_id(doc, name, _NOT_IN_ACTOR_ID)
        if isinstance(got, Invalid):
            return got
        ids.append(got)
    account_id, session_id, tenant = ids

    ip = doc.get("ip")
    if ip is not None and (not isinstance(ip, str) or not _valid_ip(ip)):
        return Invalid("invalid_field", "ip must be an IPv4 or IPv6 address or null")
    if ip is not None and ":" in ip:
        ip = normalise_ip(ip)  # one name per address; an IPv4-mapped one is the IPv4

    actor = actor_key(account_id, session_id, ip, tenant)
    if actor is None:
        return Invalid("missing_identity", "none of account_id, session_id, ip is set")

    event_id = doc.get("event_id")
    if event_id is None:
        return Invalid("missing_field", "event_id is missing")
    if isinstance(event_id, int) and not isinstance(event_id, bool):
        event_id = str(event_id)
    if not isinstance(event_id, str) or not event_id or len(event_id) > 256:
        return Invalid("invalid_field", "event_id must be a non-empty string (max 256)")
    if _bad_chars(event_id, _CONTROL):
        return Invalid("invalid_field", "event_id must not contain control characters")

    if "ts" not in doc:
        return Invalid("missing_field", "ts is missing")
    ts = parse_ts(doc["ts"])
    if ts is None:
        return Invalid(
            "invalid_ts", f"ts {str(doc['ts'])[:64]!r} is neither epoch seconds nor ISO-8601"
        )
    if ts < MIN_TS:
        return Invalid("ts_out_of_range", f"ts {ts} is before 2000")
    if ts > now + max_future_skew_s:
        return Invalid(
            "ts_in_future",
            f"ts {ts} is {ts - now:.0f}s ahead of this worker's clock "
            f"(at most {max_future_skew_s:g}s allowed)",
        )

    path = doc.get("path")
    if path is None:
        return Invalid("missing_field", "path is missing")
    if not isinstance(path, str) or len(path) > 2048:
        return Invalid("invalid_field", "path must be a string (max 2048)")

    status = doc.get("status")
    if status is None:
        return Invalid("missing_field", "status is missing")
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        return Invalid("invalid_field", "status must be an integer HTTP status 100-599")

    method = doc.get("method", "GET")
    if method is None:
        method = "GET"
    if not isinstance(method, str) or len(method) > 16:
        return Invalid("invalid_field", "method must be a string")

    user_agent = doc.get("user_agent")
    if user_agent is None:
        user_agent = ""
    elif not isinstance(user_agent, str):
        return Invalid("invalid_field", "user_agent must be a string or null")
    elif len(user_agent) > 1024:
        user_agent = user_agent[:1024]

    target = _opt_id(doc, "target_profile_id")
    if isinstance(target, Invalid):
        return target

    created = doc.get("account_created_ts")
    created_ts: float | None = None
    if created is not None:
        created_ts = parse_ts(created)
        if created_ts is None:
            return Invalid(
                "invalid_field", "account_created_ts must be epoch seconds or ISO-8601 or null"
            )
        # an account made after its own request (milliseconds sent for seconds, most
        # often) would read as new for good: every [new_account] limit on every request
        if not 0.0 <= created_ts <= ts + max_future_skew_s:
            return Invalid(
                "invalid_field",
                f"account_created_ts {created_ts:.0f} is "
                + ("before 1970" if created_ts < 0 else "after the event (milliseconds?)"),
            )

    fields = doc.get("fields")
    if fields is not None and (
        not isinstance(fields, list)
        or len(fields) > 64
        or not all(isinstance(f, str) and len(f) <= 64 for f in fields)
    ):
        return Invalid("invalid_field", "fields must be a list of at most 64 short strings")

    referrer = doc.get("referrer")
    if referrer is not None:
        if not isinstance(referrer, str):
            return Invalid("invalid_field", "referrer must be a string or null")
        if referrer == "-":
            referrer = ""  # how access logs write "no referrer"
        elif len(referrer) > 2048:
            referrer = referrer[:2048]

    fetch_dest = doc.get("fetch_dest")
    if fetch_dest is not None:
        if not isinstance(fetch_dest, str):
            return Invalid("invalid_field", "fetch_dest must be a string or null")
        # a header token: anything longer is no destination a browser sends (unknown)
        fetch_dest = fetch_dest.strip().lower()[:MAX_FETCH_DEST]
        if fetch_dest == "-":
            fetch_dest = ""

    return RequestEvent(
        event_id=event_id,
        ts=ts,
        actor=actor,
        account_id=account_id,
        session_id=session_id,
        ip=ip,
        user_agent=user_agent,
        method=method,
        path=path,
        status=status,
        target_profile_id=target,
        account_created_ts=created_ts,
        fields=fields,
        tenant=tenant,
        referrer=referrer,
        fetch_dest=fetch_dest,
    )
