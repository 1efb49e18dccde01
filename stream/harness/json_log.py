"""JSON access logs → the fields a ``log_format`` would have given (``--log-format json``).

One JSON object per line, read by the server that wrote it — each field at the place that
server puts it, never from anywhere else in the line: a request's headers are the
client's to write, so a header named ``Remote-Addr`` or ``Account-Id`` must not become the
address or the account. Headers are read for the user agent, the referrer,
Sec-Fetch-Dest and X-Forwarded-For only (the client X-Forwarded-For names taken for the
address only for a request from a proxy named with ``--forwarded-for``:
:mod:`stream.core.client_address`).

===========  ===========================================================================
a line of    is read as (the first that is there)
===========  ===========================================================================
Caddy        its ``request`` object: time ``ts``; address ``request.client_ip``,
             ``request.remote_ip``; ``request.method``, ``request.uri``; ``status``;
             headers ``request.headers.User-Agent``, ``…Referer``,
             ``…X-Forwarded-For``, ``…Sec-Fetch-Dest``; account ``user_id``
Traefik      (``ClientHost``, ``RequestMethod`` or ``DownstreamStatus`` at the top) time
             ``StartUTC``, ``time``; ``ClientHost``, ``RequestMethod``, ``RequestPath``,
             ``DownstreamStatus``; headers ``request_User-Agent``, ``request_Referer``,
             ``request_X-Forwarded-For``, ``request_Sec-Fetch-Dest``
ECS          (Elastic Common Schema: an ``http`` or ``url`` object) ``@timestamp``;
             ``client.ip``, ``source.ip``; ``http.request.method``; ``url.original``,
             ``url.path``; ``http.response.status_code``; ``user_agent.original``;
             ``http.request.referrer``
Google       (an ``httpRequest`` object: Cloud Load Balancing's or Cloud Run's log
Cloud        entry) ``timestamp``, ``receiveTimestamp``; ``httpRequest.remoteIp``,
             ``…requestMethod``, ``…requestUrl`` (absolute: read as its path),
             ``…status``, ``…userAgent``, ``…referer``
Cloudflare   (two of ``ClientIP``, ``ClientRequestMethod``, ``ClientRequestURI``,
             ``EdgeStartTimestamp`` at the top: Logpush's HTTP requests)
             ``EdgeStartTimestamp``; ``ClientIP``, ``ClientRequestMethod``,
             ``ClientRequestURI``, ``ClientRequestPath``;
             ``EdgeResponseStatus``, ``OriginResponseStatus``;
             ``ClientRequestUserAgent``, ``ClientRequestReferer``
any other    top-level keys named as nginx's variables (nginx's ``escape=json``), in any
             case, ``-`` read as ``_``: a time (``time_iso8601``, ``time_local``,
             ``msec``, ``timestamp``, ``@timestamp``, ``time``, ``ts``), ``remote_addr``
             (``client_ip``, ``remote_ip``, ``ip``), ``request`` or ``request_method`` and
             ``request_uri`` (``uri``, ``path``), ``status``, ``http_referer``
             (``http_referrer``, ``referer``, ``referrer``), ``http_user_agent``
             (``user_agent``), ``http_x_forwarded_for``, ``http_sec_fetch_dest``
             (``sec_fetch_dest``, ``fetch_dest``), and the ids of the request
             contract (``session_id``, ``account_id``, ``user_id``, ``tenant``,
             ``target_profile_id``)
===========  ===========================================================================

A line without a referrer says nothing of it by itself (a server may not log the header,
or drop it by a setting); the parser reads a missing one as none only in a file whose
lines have shown referrers (:class:`stream.harness.access_log.LogParser`).

Never ``request_time`` (nginx's duration of a request, not its time). A time is epoch
seconds, milliseconds, microseconds or nanoseconds (by its size), ISO-8601 (without a
zone: UTC) or ``17/May/2015:10:05:03 +0000``. A line that is not a JSON object, or has
no time, is unparsable (``None``), never an error.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any, Final

import orjson

Path = tuple[str, ...]

CADDY: Final[dict[str, tuple[Path, ...]]] = {
    "time": (("ts",),),
    "remote_addr": (("request", "client_ip"), ("request", "remote_ip")),
    "request_method": (("request", "method"),),
    "request_uri": (("request", "uri"),),
    "status": (("status",),),
    "http_user_agent": (("request", "headers", "User-Agent"),),
    "http_referer": (("request", "headers", "Referer"),),
    "http_sec_fetch_dest": (("request", "headers", "Sec-Fetch-Dest"),),
    "http_x_forwarded_for": (("request", "headers", "X-Forwarded-For"),),
    "user_id": (("user_id",),),
}
TRAEFIK: Final[dict[str, tuple[Path, ...]]] = {
    "time": (("StartUTC",), ("time",)),
    "remote_addr": (("ClientHost",),),
    "request_method": (("RequestMethod",),),
    "request_uri": (("RequestPath",),),
    "status": (("DownstreamStatus",),),
    "http_user_agent": (("request_User-Agent",),),
    "http_referer": (("request_Referer",),),
    "http_sec_fetch_dest": (("request_Sec-Fetch-Dest",),),
    "http_x_forwarded_for": (("request_X-Forwarded-For",),),
}
ECS: Final[dict[str, tuple[Path, ...]]] = {
    "time": (("@timestamp",),),
    "remote_addr": (("client", "ip"), ("source", "ip")),
    "request_method": (("http", "request", "method"),),
    "request_uri": (("url", "original"), ("url", "path")),
    "status": (("http", "response", "status_code"),),
    "http_user_agent": (("user_agent", "original"),),
    "http_referer": (("http", "request", "referrer"),),
}
# Google Cloud's log entries of a load balancer or Cloud Run (an "httpRequest" object; the
# URL absolute, read as its path by the parser)
GOOGLE_CLOUD: Final[dict[str, tuple[Path, ...]]] = {
    "time": (("timestamp",), ("receiveTimestamp",)),
    "remote_addr": (("httpRequest", "remoteIp"),),
    "request_method": (("httpRequest", "requestMethod"),),
    "request_uri": (("httpRequest", "requestUrl"),),
    "status": (("httpRequest", "status"),),
    "http_user_agent": (("httpRequest", "userAgent"),),
    "http_referer": (("httpRequest", "referer"),),
}
# Cloudflare's HTTP requests dataset (Logpush): top-level fields of its own names
CLOUDFLARE: Final[dict[str, tuple[Path, ...]]] = {
    "time": (("EdgeStartTimestamp",),),
    "remote_addr": (("ClientIP",),),
    "request_method": (("ClientRequestMethod",),),
    "request_uri": (("ClientRequestURI",), ("ClientRequestPath",)),
    "status": (("EdgeResponseStatus",), ("OriginResponseStatus",)),
    "http_user_agent": (("ClientRequestUserAgent",),),
    "http_referer": (("ClientRequestReferer",),),
}
_CLOUDFLARE_KEYS: Final = frozenset(
    ("ClientIP", "ClientRequestMethod", "ClientRequestURI", "EdgeStartTimestamp")
)
# a flat line (nginx's escape=json and the like): top-level keys, normalised
FLAT: Final[dict[str, tuple[str, ...]]] = {
    "time": ("time_iso8601", "time_local", "msec", "timestamp", "@timestamp", "time", "ts"),
    "remote_addr": ("remote_addr", "client_ip", "remote_ip", "ip"),
    "request": ("request",),
    "request_method": ("request_method", "method"),
    "request_uri": ("request_uri", "uri", "path"),
    "status": ("status",),
    "http_referer": ("http_referer", "http_referrer", "referer", "referrer"),
    "http_sec_fetch_dest": ("http_sec_fetch_dest", "sec_fetch_dest", "fetch_dest"),
    "http_user_agent": ("http_user_agent", "user_agent"),
    "http_x_forwarded_for": ("http_x_forwarded_for", "x_forwarded_for"),
    "session_id": ("session_id",),
    "account_id": ("account_id",),
    "user_id": ("user_id",),
    "tenant": ("tenant",),
    "target_profile_id": ("target_profile_id",),
}
# epoch times by size: beyond 1e11 seconds (the year 5138) it is milliseconds, and so on
SCALES: Final = ((1e17, 1e9), (1e14, 1e6), (1e11, 1e3))


def _at(doc: dict[str, Any], path: Path) -> Any:
    """The value at ``path``, or None. A header's several lines are its list: joined
    with commas for X-Forwarded-For, as HTTP joins them (a proxy that adds a line of its
    own after the client's writes the last entry), else its first."""
    node: Any = doc
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    if isinstance(node, list):
        if path[-1] == "X-Forwarded-For":
            return ", ".join(v for v in node if isinstance(v, str)) or None
        node = node[0] if node else None
    return node


def _dialect(doc: dict[str, Any]) -> dict[str, tuple[Path, ...]] | None:
    """The server's layout of ``doc``; None for a flat line."""
    if isinstance(doc.get("request"), dict):
        return CADDY
    if "ClientHost" in doc or "RequestMethod" in doc or "DownstreamStatus" in doc:
        return TRAEFIK
    if isinstance(doc.get("http"), dict) or isinstance(doc.get("url"), dict):
        return ECS
    if isinstance(doc.get("httpRequest"), dict):
        return GOOGLE_CLOUD
    if len(_CLOUDFLARE_KEYS & doc.keys()) >= 2:  # not one key a flat line may share
        return CLOUDFLARE
    return None


def _candidates(doc: dict[str, Any]) -> dict[str, list[Any]]:
    """Each field's values, in the order they are tried."""
    layout = _dialect(doc)
    if layout is not None:
        return {field: [_at(doc, path) for path in paths] for field, paths in layout.items()}
    flat: dict[str, Any] = {}
    for key, value in doc.items():
        if not isinstance(value, dict | list):
            flat.setdefault(key.lower().replace("-", "_"), value)
    return {field: [flat.get(k) for k in keys] for field, keys in FLAT.items()}


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
            value = float(text)
        except ValueError:
            return _date(text)
    if not isinstance(value, int | float) or not math.isfinite(value):
        return None
    for above, per_second in SCALES:
        if value > above:
            return value / per_second
    return float(value)


def _date(text: str) -> float | None:
    """A written date as epoch seconds (ISO-8601 without a zone: UTC); None if none."""
    for parse in (_clf, datetime.fromisoformat):
        try:
            when = parse(text)
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return when.timestamp()
        except (ValueError, OverflowError, OSError):
            continue
    return None


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
    fields: dict[str, str] = {}
    for field, values in _candidates(doc).items():
        present = [v for v in values if v is not None]
        if field == "time":
            ts = next((t for t in map(_epoch, present) if t is not None), None)
            if ts is None:
                return None
            fields["msec"] = repr(ts)
            continue
        text = next((t for t in map(_text, present) if t is not None), None)
        if text is not None:
            fields[field] = text
    return fields
