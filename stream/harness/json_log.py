"""JSON access logs → the fields a ``log_format`` would have given (``--log-format json``).

One JSON object per line, as nginx writes with ``log_format … escape=json`` and as Caddy
and Traefik write by default. A line's keys are matched, case-insensitively and with
``-`` read as ``_``, against the names below, first at the top level, then at any depth
(Caddy nests ``request.remote_ip`` and ``request.headers.User-Agent``; a header's list of
values gives its first). The first name found wins; nginx's own variable names come first.

==========================  =========================================================
field (nginx's name)        keys read, in order
==========================  =========================================================
time (``msec``)             ``time_iso8601``, ``time_local``, ``msec``, ``timestamp``,
                            ``@timestamp``, ``time``, ``ts``, ``startutc``: epoch
                            seconds (or milliseconds: over 10^11), ISO-8601 or
                            ``17/May/2015:10:05:03 +0000``
``remote_addr``             ``remote_addr``, ``remote_ip``, ``client_ip``, ``clienthost``,
                            ``client_addr``, ``ip``
``request``                 ``request`` when it is a string (``GET /x HTTP/1.1``)
``request_method``          ``request_method``, ``method``, ``requestmethod``
``request_uri``             ``request_uri``, ``uri``, ``requestpath``, ``path``, ``url``
``status``                  ``status``, ``downstreamstatus``, ``status_code``
``http_referer``            ``http_referer``, ``referer``, ``referrer``,
                            ``request_referer``
``http_user_agent``         ``http_user_agent``, ``user_agent``, ``useragent``,
                            ``request_user_agent``
``session_id`` and the      the same names
other ids of the contract
==========================  =========================================================

Never ``request_time`` (nginx's duration of the request, not its time). Everything else
is ignored. A line that is not a JSON object, or lacks a time, a target or a status, is
unparsable (``None``), never an error.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Final

import orjson

# the fields of a log_format this reads, each from the first of its keys a line has
KEYS: Final[dict[str, tuple[str, ...]]] = {
    "time": (
        "time_iso8601",
        "time_local",
        "msec",
        "timestamp",
        "@timestamp",
        "time",
        "ts",
        "startutc",
    ),
    "remote_addr": ("remote_addr", "remote_ip", "client_ip", "clienthost", "client_addr", "ip"),
    "request": ("request",),
    "request_method": ("request_method", "method", "requestmethod"),
    "request_uri": ("request_uri", "uri", "requestpath", "path", "url"),
    "status": ("status", "downstreamstatus", "status_code"),
    "http_referer": ("http_referer", "referer", "referrer", "request_referer"),
    "http_user_agent": ("http_user_agent", "user_agent", "useragent", "request_user_agent"),
    "session_id": ("session_id",),
    "account_id": ("account_id",),
    "user_id": ("user_id",),
    "tenant": ("tenant",),
    "target_profile_id": ("target_profile_id",),
}
MAX_DEPTH: Final = 4  # Caddy's deepest: request.headers.User-Agent
MS_ABOVE: Final = 1e11  # epoch seconds reach 1e11 in the year 5138: larger is milliseconds


def _flatten(doc: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The line's top-level keys, and every key at any depth (the first of a name wins),
    both normalised (lower case, ``-`` as ``_``)."""
    top: dict[str, Any] = {}
    deep: dict[str, Any] = {}
    stack: list[tuple[dict[str, Any], int]] = [(doc, 0)]
    while stack:
        node, depth = stack.pop()
        for key, value in node.items():
            name = key.lower().replace("-", "_")
            if isinstance(value, dict):
                if depth + 1 < MAX_DEPTH:
                    stack.append((value, depth + 1))
                continue
            if isinstance(value, list):  # a header's values: the first
                value = value[0] if value else None
            if depth == 0:
                top.setdefault(name, value)
            deep.setdefault(name, value)
    return top, deep


def _text(value: Any) -> str | None:
    """A field's value as text: strings and numbers (not bools, not NaN)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return str(value)


def _epoch(value: Any) -> float | None:
    """A time field as epoch seconds; None when it is no time."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            for parse in (_clf, datetime.fromisoformat):
                try:
                    return parse(text).timestamp()
                except (ValueError, OverflowError, OSError):
                    continue
            return None
        value = number
    if not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return value / 1000.0 if value > MS_ABOVE else float(value)


def _clf(text: str) -> datetime:
    return datetime.strptime(text, "%d/%b/%Y:%H:%M:%S %z")


def json_fields(line: str) -> dict[str, str] | None:
    """The fields of one JSON log line, named as a log_format's variables (the time as
    ``msec``); None when the line is not a JSON object or has no time."""
    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(doc, dict):
        return None
    top, deep = _flatten(doc)
    fields: dict[str, str] = {}
    for field, keys in KEYS.items():
        for where in (top, deep):
            found = next((where[k] for k in keys if where.get(k) is not None), None)
            if found is not None:
                break
        if found is None:
            continue
        if field == "time":
            ts = _epoch(found)
            if ts is None:
                return None
            fields["msec"] = repr(ts)
            continue
        text = _text(found)
        if text is not None:
            fields[field] = text
    return fields if "msec" in fields else None
