"""Access logs → request events: Apache/nginx *combined*, any nginx ``log_format``, or JSON
lines (``json``: :mod:`stream.harness.json_log` reads their keys into the variables below).

A ``log_format`` string of ``$variables`` and literal text is compiled to one regular
expression. Variables mapped to the request-event contract:

=====================  ===========================================================
``$remote_addr``       ``ip``
``$remote_user``       ``account_id`` only with ``trust_remote_user`` (``--trust-remote-user``)
``$time_local``        ``ts`` (``17/May/2015:10:05:03 +0000``); also ``$time_iso8601``, ``$msec``
``$request``           ``method`` and ``path`` (the query string is dropped)
``$request_method``,   ``method`` / ``path`` when the format logs them separately
``$request_uri``/``$uri``
``$status``            ``status``
``$http_user_agent``   ``user_agent``
``$http_referer``      ``referrer`` (``-`` becomes ``""``: the request had none)
``$http_sec_fetch_dest``  ``fetch_dest`` (``-``: none; tells a single-page app's calls
                       from pages: :mod:`stream.core.request_kind`)
``$http_x_forwarded_for``  ``ip`` for a request from a proxy in ``forwarded_for``
                       (``--forwarded-for CIDR``): the client it names, read as
                       ``/check`` reads it (:mod:`stream.core.client_address`)
``$account_id``, ``$user_id``, ``$session_id``, ``$tenant``, ``$target_profile_id``
                       the field of the same meaning
=====================  ===========================================================

Other variables (``$body_bytes_sent``, …) are parsed and ignored. ``$remote_addr`` of
``-`` (logs with the address removed) means no IP; the actor is then the session or the
account.

``$remote_user`` is the name the *client* sent in its Basic-auth header, logged by
nginx even when the login failed (401): taken as the account, it would let a scraper
put its traffic on a victim's account. It becomes the account only when the caller
says the log's authentication is verified (``trust_remote_user``), and never on a 401
or 407 response.
``target_profile_id`` comes from the path with a regular expression that has a named
group ``id`` (``--profile-path``), unless the format logs it.
"""

from __future__ import annotations

import gzip
import math
import re
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from stream.core.client_address import TrustedProxies, valid_address
from stream.core.validation import Invalid, validate_doc
from stream.harness.json_log import json_fields
from stream.harness.terminal_text import shown
from stream.harness.w3c_log import W3C, W3CFields, is_directive

JSON = "json"  # --log-format json: JSON lines, their keys read by stream.harness.json_log
COMBINED = (
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
    '"$http_referer" "$http_user_agent"'
)
# Envoy's default access log: no peer address, the client's is X-Forwarded-For's last
# entry (Envoy appends it with use_remote_address)
ENVOY = (
    '[$time_iso8601] "$request" $status $response_flags $bytes_received $body_bytes_sent '
    '$duration $upstream_service_time "$http_x_forwarded_for" "$http_user_agent" '
    '"$request_id" "$authority" "$upstream_host"'
)
DEFAULT_PROFILE_PATH = r"^/(?:profiles?|users?|people|members|u|in)/(?P<id>[^/?#]+)"

_VAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_ID_VARS = {
    "account_id": "account_id",
    "user_id": "account_id",
    "session_id": "session_id",
    "tenant": "tenant",
    "target_profile_id": "target_profile_id",
}


class LogFormatError(ValueError):
    """The log_format string cannot be used."""


def _field_body(name: str, nxt: str) -> str:
    """The pattern of field ``name``, followed in the format by the character ``nxt``."""
    if name == "time_local":
        return r"[^\]]+"
    if name == "remote_addr" and nxt == ":":
        # "$remote_addr:$remote_port" (AWS's load balancers): an IPv6 address holds colons
        return r'\[[0-9A-Fa-f:.%]+\]|[0-9A-Fa-f:.%]+(?=:(?:\d+|-)(?:[^0-9A-Fa-f:.]|$))|[^\s:"]*'
    if nxt in ("", " "):
        # an unquoted field is a token without a quote: Envoy writes a header's quotes
        # unescaped, and a user agent of '" "x" … 6.6.6.6:1 -' must not move the fields
        # after it (an Istio line's peer), nor a last field swallow the real ones; an id
        # is never a quoted field either (nginx's main format ends with a quoted
        # "$http_x_forwarded_for", which made a user agent without spaces a session id)
        return r'[^\s"]+' if name in _ID_VARS else r'[^\s"]*'

    if nxt == "]":
        return r"[^\]]*?"
    if nxt == '"':
        return r'(?:[^"\\]|\\.)*?'  # an escaped quote inside: Apache writes " as \"
    # any other separator ends the field at its first occurrence: a field that may run past
    # it (".*?") backtracks without end on a long line of separators
    return f"[^{re.escape(nxt)}]*"


def compile_format(fmt: str) -> re.Pattern[str]:
    parts: list[str] = []
    names: set[str] = set()
    pos = 0
    for m in _VAR.finditer(fmt):
        literal = fmt[pos : m.start()]
        name = m.group(1)
        nxt = fmt[m.end() : m.end() + 1]
        if name == "extra" and nxt == "" and literal.endswith(" "):
            # "... $extra" at the end: fields a server adds after the known ones, if any
            # (a log whose later lines gained a field keeps one format for all)
            parts.append(re.escape(literal[:-1]) + r"(?: (?P<extra>.*))?")
            names.add(name)
            pos = m.end()
            continue
        parts.append(re.escape(literal))
        body = _field_body(name, nxt)
        parts.append(f"(?P<{name}>{body})" if name not in names else f"(?:{body})")
        names.add(name)
        pos = m.end()
    parts.append(re.escape(fmt[pos:]))
    if not names:
        raise LogFormatError("the log format has no $variables")
    if not names & {"time_local", "time_iso8601", "msec"}:
        raise LogFormatError("the log format needs a time: $time_local, $time_iso8601 or $msec")
    if not names & {"request", "request_uri", "uri"}:
        raise LogFormatError("the log format needs $request, $request_uri or $uri")
    if "status" not in names:
        raise LogFormatError("the log format needs $status")
    return re.compile("^" + "".join(parts) + "$")


def _ts(groups: dict[str, str]) -> float:
    if groups.get("time_local"):
        return datetime.strptime(groups["time_local"], "%d/%b/%Y:%H:%M:%S %z").timestamp()
    if groups.get("time_iso8601"):
        when = datetime.fromisoformat(groups["time_iso8601"])
        return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()  # no zone: UTC
    ts = float(groups["msec"])
    if not math.isfinite(ts):  # float() reads "nan" and "inf"
        raise ValueError(f"not a time: {groups['msec']}")
    return ts


def _none_if_dash(text: str) -> str:
    """A header as logged: ``-`` is how a log writes one the client did not send."""
    return "" if text == "-" else text


def _address(text: str | None) -> str | None:
    """The client's address as logged: ``-`` is none, IPv6 brackets are taken off."""
    address = (text or "").strip()
    if address in ("", "-", "[]"):
        return None
    # a port or brackets taken off (Google Cloud's remoteIp may carry one); a host name
    # is kept as logged, for the worker to refuse with its reason
    return valid_address(address) or address.strip("[]")


# a request target in absolute form: its scheme and authority (up to the path, the query
# or the fragment: "http://h?next=/users/42" names no profile)
_ABSOLUTE = re.compile(r"https?://[^/?#]*", re.IGNORECASE)


def _status(text: str) -> int:
    """An HTTP status: three ASCII digits at most (``int`` also reads "٣٠٠" and " 200 ",
    and a status of 2**64 would be no JSON number a Kafka client writes)."""
    if not (text.isascii() and text.isdigit() and len(text) <= 3):
        raise ValueError(f"not a status: {text[:20]!r}")
    return int(text)


BAD_LINES_KEPT = 20  # line numbers of unparsable lines a report keeps (it counts all)


@dataclass
class ParseReport:
    lines: int = 0
    events: int = 0
    bad: int = 0  # unparsable lines
    bad_lines: list[int] = field(default_factory=list)  # the first BAD_LINES_KEPT of them
    bad_examples: list[str] = field(default_factory=list)
    read_error: str = ""  # why reading stopped before the end (a truncated gzip file)
    # events written that the worker will refuse (dead-letter), by reason: status 000, an
    # address that is a host name, a time out of its range
    refused: Counter[str] = field(default_factory=Counter)
    forwarded: int = 0  # events whose line names an X-Forwarded-For address
    directives: int = 0  # a W3C log's "#" lines: neither requests nor unparsable

    @property
    def requests(self) -> int:
        """Lines that should have been requests (directives left out)."""
        return self.lines - self.directives

    def line(self) -> str:
        """The report in a line: lines, events, unparsable (and directives)."""
        directives = f", {self.directives} directives" if self.directives else ""
        return f"{self.lines} lines, {self.events} events, {self.bad} unparsable{directives}"


class LogParser:
    def __init__(
        self,
        fmt: str = COMBINED,
        profile_path: str = DEFAULT_PROFILE_PATH,
        source: str = "log",
        trust_remote_user: bool = False,
        forwarded_for: TrustedProxies | None = None,
    ) -> None:
        # a W3C extended log names its fields in its own directives: read as they come
        self.w3c = W3CFields() if fmt == W3C else None
        self.fields: Callable[[str], dict[str, str] | None] = (
            json_fields if fmt == JSON else self.w3c or self._match
        )
        self.pattern = None if fmt in (JSON, W3C) else compile_format(fmt)
        # False for Envoy's default format only: it logs no peer, and the proxy appends
        # the one it saw to X-Forwarded-For (another format without $remote_addr takes no
        # address from a header its client writes)
        self.logs_peer = fmt != ENVOY
        self.trust_remote_user = trust_remote_user
        self.forwarded_for = forwarded_for  # the proxies whose X-Forwarded-For counts
        try:
            self.profile = re.compile(profile_path)
        except re.error as exc:
            raise LogFormatError(f"--profile-path is not a regular expression: {exc}") from exc
        if "id" not in self.profile.groupindex:
            raise LogFormatError("--profile-path needs a named group (?P<id>...)")
        self.source = source
        self.report = ParseReport()
        # a JSON log leaves out a header the request lacked (Caddy, Traefik, Google Cloud)
        # but also one it does not keep: once a line of this file has shown a referrer,
        # the file keeps them, and a line without one is a request that had none
        self.json = fmt == JSON
        self.referrers_seen = False

    def _match(self, line: str) -> dict[str, str] | None:
        """The fields of a line of the log_format; None when it does not match."""
        assert self.pattern is not None
        m = self.pattern.match(line)
        if m is None:
            return None
        return {k: v for k, v in m.groupdict().items() if v is not None}

    def parse_line(self, line: str, lineno: int) -> dict[str, Any] | None:
        g = self.fields(line)
        if g is None:
            return None
        try:
            ts = _ts(g)
            status = _status(g["status"])
        except (ValueError, KeyError, OverflowError):
            return None
        if "request" in g:
            # "METHOD target PROTOCOL", the target as the client sent it: a space inside it
            # (Apache logs the raw line) or a doubled space must not cut it short
            method, _, rest = g["request"].partition(" ")
            target, _, protocol = rest.strip(" ").rpartition(" ")
            if not protocol.startswith("HTTP/"):  # HTTP/0.9: no protocol
                target = rest.strip(" ")
            target = target.strip(" ")
            if not method or not target or method == "-":  # Envoy's TCP line: "- - -"
                return None
        else:
            method = g.get("request_method", "GET")
            target = g.get("request_uri") or g.get("uri") or ""
            if not target:
                return None
        absolute = _ABSOLUTE.match(target)
        if absolute:
            # absolute-form ("GET https://host:443/p HTTP/1.1"): a load balancer's or a
            # proxy's log (and a proxy probe's); the path is what follows the authority
            rest = target[absolute.end() :].split("#", 1)[0]  # a fragment is no path
            target = rest if rest.startswith("/") else "/" + rest
        path = target.split("?", 1)[0]
        event: dict[str, Any] = {
            "event_id": f"{self.source}:{lineno}",
            "ts": ts,
            "ip": _address(g.get("remote_addr")),
            "user_agent": _none_if_dash(g.get("http_user_agent", "")),
            "method": method,
            "path": path,
            "status": status,
        }
        if "http_referer" in g:
            event["referrer"] = _none_if_dash(g["http_referer"])
            self.referrers_seen = True
        elif self.json and self.referrers_seen:
            event["referrer"] = ""
        if "http_sec_fetch_dest" in g:
            event["fetch_dest"] = _none_if_dash(g["http_sec_fetch_dest"])
        forwarded = g.get("http_x_forwarded_for", "")
        nearest = valid_address(forwarded.rpartition(",")[2])
        if nearest:
            self.report.forwarded += 1
            if not self.logs_peer:
                # a format without the peer's address (Envoy's default): the header's last
                # entry is the address the proxy that wrote it (use_remote_address), or the
                # one in front of it, saw; past it, --forwarded-for's proxies as usual
                event["ip"] = nearest
            if self.forwarded_for is not None:
                # a hop that names no address ("unknown"): the server's own view stands
                event["ip"] = self.forwarded_for.client(event["ip"], forwarded) or event["ip"]
        for var, name in _ID_VARS.items():
            value = g.get(var)
            if value and value != "-":
                event[name] = value
        user = g.get("remote_user")
        if (
            self.trust_remote_user
            and user
            and user != "-"
            and "account_id" not in event
            and status not in (401, 407)
        ):
            event["account_id"] = user
        if "target_profile_id" not in event:
            pm = self.profile.search(path)
            if pm:
                event["target_profile_id"] = pm.group("id")
        return event

    def events(self, stream: IO[str]) -> Iterator[dict[str, Any]]:
        report = self.report

        def stopped(error: str) -> None:
            report.read_error = error

        now = time.time()

        for lineno, line in numbered_lines(stream, stopped):
            report.lines += 1
            if self.w3c is not None and is_directive(line):
                self.w3c.directive(line)  # a line, but neither a request nor unparsable
                report.directives += 1
                continue
            event = self.parse_line(line, lineno)
            if event is None:
                report.bad += 1
                if len(report.bad_lines) < BAD_LINES_KEPT:
                    report.bad_lines.append(lineno)
                if len(report.bad_examples) < 5:
                    report.bad_examples.append(shown(line))
                continue
            report.events += 1
            checked = validate_doc(event, now=now)
            if isinstance(checked, Invalid):
                report.refused[checked.reason] += 1
            yield event


def numbered_lines(stream: IO[str], stopped: Callable[[str], None]) -> Iterator[tuple[int, str]]:
    """The non-empty lines of ``stream``, numbered from 1; a read error (a gzip file cut
    short or corrupt) ends them, and ``stopped`` is told why."""
    lines = enumerate(stream, 1)
    while True:
        try:
            lineno, raw = next(lines)
        except StopIteration:
            return
        except (EOFError, OSError, zlib.error) as exc:
            stopped(f"{type(exc).__name__}: {exc}")
            return
        line = raw.rstrip("\r\n")
        if line:
            yield lineno, line


def open_log(path: Path) -> IO[str]:
    """Plain or gzip-compressed text (by content, not by name)."""
    with open(path, "rb") as fh:
        magic = fh.read(2)
    # utf-8-sig: a byte-order mark is not part of the first address; lines end at "\n"
    # only (and "\r\n"), so a stray "\r" inside a line does not shift the line numbers
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8-sig", errors="replace", newline="\n")
    return open(path, encoding="utf-8-sig", errors="replace", newline="\n")
