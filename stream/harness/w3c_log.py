"""W3C extended log files → the fields a ``log_format`` would have given (``--log-format
w3c``): Microsoft IIS's default log format, and Amazon CloudFront's standard logs.

The file names its fields in a ``#Fields:`` directive (IIS writes a new one when the
server restarts or the configuration changes, so the last one read applies); the values of
a line follow in that order, separated by spaces (IIS) or tabs (CloudFront), ``-`` for
none (a header's ``-``: the request had none, as in a combined log). Times are UTC, as
the format prescribes (``date`` and ``time``).

===================================  =================================================
W3C field                            read as
===================================  =================================================
``date`` and ``time``                the request's time (UTC)
``c-ip``                             ``$remote_addr``
``cs-username``                      ``$remote_user`` (an account only with
                                     ``--trust-remote-user``)
``cs-method``                        ``$request_method``
``cs-uri-stem`` (``cs-uri``) and     ``$request_uri``
``cs-uri-query``
``sc-status``                        ``$status``
``cs(User-Agent)``                   ``$http_user_agent``
``cs(Referer)``                      ``$http_referer``
``x-forwarded-for``,                 ``$http_x_forwarded_for`` (taken only for a request
``cs(X-Forwarded-For)``              from a proxy named with ``--forwarded-for``)
``cs(Sec-Fetch-Dest)``               ``$http_sec_fetch_dest``
===================================  =================================================

A header's spaces are written ``+`` by IIS, and percent-encoded by CloudFront (whose
``+`` is a plus): a space-separated line's ``+`` is read as a space (``++`` as `` +``, a
crawler's ``; +http://…``), a tab-separated line's value is percent-decoded (twice
when CloudFront encoded it twice: ``%2520``). A line
before any ``#Fields:``, or with another number of values than the directive names, is
unparsable (``None``), never an error.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import unquote

W3C: Final = "w3c"  # --log-format w3c

# W3C field (lower case) → the nginx variable its value stands for
FIELDS: Final[dict[str, str]] = {
    "c-ip": "remote_addr",
    "cs-username": "remote_user",
    "cs-method": "request_method",
    "cs-uri-stem": "uri",
    "cs-uri": "uri",
    "cs-uri-query": "query",
    "sc-status": "status",
    "cs(user-agent)": "http_user_agent",
    "cs(referer)": "http_referer",
    "cs(referrer)": "http_referer",
    "x-forwarded-for": "http_x_forwarded_for",
    "cs(x-forwarded-for)": "http_x_forwarded_for",
    "cs(sec-fetch-dest)": "http_sec_fetch_dest",
    "date": "date",
    "time": "time",
}
_HEADERS: Final = (
    "http_user_agent",
    "http_referer",
    "http_x_forwarded_for",
    "http_sec_fetch_dest",
)


# IIS writes a space as "+" and leaves a "+" as it is: "++" is most often " +" (a
# crawler's "; +http://…"), never two spaces in a user agent
_PLUS: Final = re.compile(r"\+(\+?)")


def _space(m: re.Match[str]) -> str:
    return " " + m.group(1)


def _decoded(value: str) -> str:
    """A CloudFront header's value: percent-decoded, twice when it was encoded twice
    (``%2520``, as CloudFront writes user agents in many of its logs)."""
    once = unquote(value)
    return unquote(once) if _ESCAPE.search(once) else once


_ESCAPE: Final = re.compile(r"%[0-9A-Fa-f]{2}")


def is_directive(line: str) -> bool:
    """``#Software:``, ``#Version:``, ``#Date:``, ``#Fields:``: no request (a byte-order
    mark before one: files of IIS joined with ``cat``)."""
    return line.lstrip("\ufeff").startswith("#")


class W3CFields:
    """The fields of a W3C extended log's lines, by the last ``#Fields:`` directive read
    (one per file: a parser of its own for each)."""

    def __init__(self) -> None:
        self.names: list[str | None] | None = None  # what each position stands for

    def directive(self, line: str) -> None:
        key, _, value = line.lstrip("\ufeff")[1:].partition(":")
        if key.strip().lower() == "fields":
            self.names = [FIELDS.get(name.lower()) for name in value.split()]

    def __call__(self, line: str) -> dict[str, str] | None:
        """The nginx-named fields of a line; a directive is read and gives ``None``."""
        if is_directive(line):
            self.directive(line)
            return None
        if self.names is None:
            return None
        tabs = "\t" in line
        values = line.split("\t") if tabs else line.rstrip(" ").split(" ")
        if len(values) != len(self.names):
            return None
        # "-" is no value; a header's "-" is kept, read as the request had none (a
        # referrer of "" then counts as none, not as a log that does not say)
        got = {
            name: value
            for name, value in zip(self.names, values, strict=True)
            if name is not None and (value != "-" or name in _HEADERS)
        }
        for header in _HEADERS:
            if header in got:
                got[header] = _decoded(got[header]) if tabs else _PLUS.sub(_space, got[header])
        date, clock = got.pop("date", ""), got.pop("time", "")
        uri, query = got.pop("uri", ""), got.pop("query", "")
        if not date or not clock or not uri:
            return None
        got["time_iso8601"] = f"{date}T{clock}+00:00"
        got["request_uri"] = f"{uri}?{query}" if query else uri
        return got
