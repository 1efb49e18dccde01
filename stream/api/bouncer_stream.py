"""``GET /v1/decisions/stream``: CrowdSec's local-API contract for bouncers, served from the
decisions in force, so a stock CrowdSec bouncer (firewall, nginx/OpenResty, Traefik
plugin …) pointed at a worker with a scrapeguard bouncer key works unchanged.

* ``startup=true``: every decision in force, in ``new``; later calls (``startup=false`` or
  absent): what changed since *that bouncer's* previous call — ``new`` decisions, and
  ``deleted`` ones (lifted, replaced or expired). Deleted before new, as bouncers apply
  them, so a challenge that became a block is one delete and one add.
* Fields as the LAPI gives them: ``id`` (integer), ``origin`` (``rules``, ``model``,
  ``group``, ``manual``), ``scenario`` (``scrapeguard/<reason>``), ``scope`` (``Ip``,
  ``Range``; ``Account``, ``Session`` when asked for), ``type`` (``ban`` for a block,
  ``captcha`` for a challenge), ``value``, ``duration`` (a Go duration, ``23h59m12s``),
  ``until`` and ``uuid`` (the scrapeguard decision id).
* Filters: ``scopes`` (default ``ip,range``), ``origins``, ``scenarios_containing``,
  ``scenarios_not_containing``; ``tenant`` (scrapeguard's) for a tenant's decisions.
* ``wait=SECONDS`` (scrapeguard's, at most 60): a long poll — when nothing changed, the
  answer waits until something does (a new block is delivered within milliseconds of the
  worker reading it), or the wait is over, or a known decision expires.
* ``X-Api-Key``: a bouncer's key (403 ``{"message": "access forbidden"}`` otherwise).

Cursors (what each bouncer was last sent) are kept in memory by the worker that answers;
a bouncer that reaches a worker that does not know it yet (another worker, a restart) gets
everything in force in ``new``, as with ``startup=true``. So put a bouncer on one worker (or
a sticky load balancer) to receive every ``deleted``; a bouncer that misses one still
drops the decision at the end of its ``duration``.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from typing import Any

import faust
import orjson
from faust.web import Request, Response, View

from stream.api.auth import enforcement_caller
from stream.api.query import WorkerQuery
from stream.core.actions import Action
from stream.core.decision_index import Entry, applies_under
from stream.core.utc_text import RFC3339, utc_text
from stream.settings import Settings

SCOPE_NAMES = {"ip": "Ip", "range": "Range", "account": "Account", "session": "Session"}
TYPES = {Action.CHALLENGE: "captcha", Action.BLOCK: "ban"}
MAX_WAIT_S = 60.0
FORBIDDEN = {"message": "access forbidden"}
NOT_READY = {"message": "decisions are not read yet"}


def go_duration(seconds: float) -> str:
    """Whole seconds as Go prints a duration: ``23h59m12s``, ``4m0s``, ``9s``."""
    s = max(0, math.ceil(seconds))
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    if h:
        return f"{h}h{m}m{sec}s"
    if m:
        return f"{m}m{sec}s"
    return f"{sec}s"


def scenario(entry: Entry) -> str:
    reasons = [r for r in entry.decision.reasons if r != "renewal"]
    head = reasons[0].split(" ", 1)[0].rstrip(":") if reasons else entry.decision.origin
    return "scrapeguard/" + ("manual" if entry.decision.origin == "manual" else head)


LAST_UNTIL = "9999-12-31T23:59:59Z"


def rfc3339(ts: float) -> str:
    """``ts`` as CrowdSec writes ``until``; past what a date can hold (a decision from a
    topic anyone with write access can fill), the last date there is, not an error."""
    return utc_text(ts, RFC3339, LAST_UNTIL if ts > 0 else "1970-01-01T00:00:00Z")


def lapi_decision(entry: Entry, now: float) -> dict[str, Any]:
    return {
        "id": entry.id,
        "origin": entry.decision.origin,
        "scenario": scenario(entry),
        "scope": SCOPE_NAMES[entry.ref.scope],
        "type": TYPES[entry.action],
        "value": entry.ref.value,
        "duration": go_duration(entry.until - now),
        "until": rfc3339(entry.until),
        "uuid": entry.decision.decision_id,
        "simulated": False,
    }


@dataclass(frozen=True)
class Filters:
    scopes: frozenset[str]
    origins: frozenset[str] | None
    containing: tuple[str, ...]
    not_containing: tuple[str, ...]
    tenant: str | None

    @classmethod
    def of(cls, q: Any) -> Filters:
        def items(name: str) -> list[str]:
            return [v.strip() for v in q.get(name, "").split(",") if v.strip()]

        scopes = frozenset(s.lower() for s in items("scopes")) or frozenset({"ip", "range"})
        origins = frozenset(items("origins")) or None
        return cls(
            scopes,
            origins,
            tuple(items("scenarios_containing")),
            tuple(items("scenarios_not_containing")),
            q.get("tenant") or None,
        )

    def keep(self, e: Entry) -> bool:
        if e.ref.scope not in self.scopes or not applies_under(e.ref, self.tenant):
            return False
        if self.origins is not None and e.decision.origin not in self.origins:
            return False
        if self.containing or self.not_containing:
            sc = scenario(e)
            if self.containing and not any(c in sc for c in self.containing):
                return False
            if any(c in sc for c in self.not_containing):
                return False
        return True


@dataclass
class Delta:
    """What a bouncer has not been sent (``new``), what it was sent that is no longer in
    force (``deleted``), and what it knows once it has this delta (``records``)."""

    new: list[dict[str, Any]]
    deleted: list[dict[str, Any]]
    records: dict[int, dict[str, Any]]

    def __bool__(self) -> bool:
        return bool(self.new or self.deleted)


class Cursors:
    """Per bouncer: the decisions it was last sent (id → its record), in this worker."""

    def __init__(self) -> None:
        self.sent: dict[str, dict[int, dict[str, Any]]] = {}

    def delta(self, bouncer: str, current: dict[int, Entry], now: float, startup: bool) -> Delta:
        """``bouncer``'s delta to ``current``; it knows it only once :meth:`delivered`."""
        known = None if startup else self.sent.get(bouncer)
        records: dict[int, dict[str, Any]] = {}
        new: list[dict[str, Any]] = []
        for i, e in current.items():
            if known is not None and i in known:
                records[i] = known[i]
            else:
                records[i] = rec = lapi_decision(e, now)
                new.append(rec)
        deleted = (
            []
            if known is None
            else [{**d, "duration": "0s"} for i, d in known.items() if i not in current]
        )
        return Delta(new, deleted, records)

    def delivered(self, bouncer: str, delta: Delta) -> None:
        """``bouncer`` was sent ``delta``: what it knows is its records now."""
        self.sent[bouncer] = delta.records

    def next_expiry(self, bouncer: str, current: dict[int, Entry]) -> float | None:
        ends = [current[i].until for i in self.sent.get(bouncer, {}) if i in current]
        return min(ends) if ends else None


def _gone(request: Any) -> bool:
    """The client closed its connection (a bouncer's own timeout ran out)."""
    transport = request.transport
    return transport is None or transport.is_closing()


def install(app: faust.App, settings: Settings, query: WorkerQuery) -> None:
    """Route ``/v1/decisions/stream`` (and ``/v1/usage-metrics``, accepted and dropped)."""
    cursors = Cursors()

    def in_force(filters: Filters, now: float) -> dict[int, Entry]:
        return {e.id: e for e in query.in_force(now) if filters.keep(e)}

    @app.page("/v1/decisions/stream")
    class DecisionStream(View):
        async def head(self, request: Request, **_: Any) -> Response:
            if not query.enforcement_ready:  # bouncer keys are read with the decisions
                return self.json(NOT_READY, status=503)
            if enforcement_caller(settings, query, request.headers) is None:
                return self.json(FORBIDDEN, status=403)
            return self.bytes(b"", content_type="application/json")

        async def get(self, request: Request, **_: Any) -> Response:
            # before the worker has read the decisions no bouncer's key is known yet: a 403
            # then would stop a bouncer that gives up on it at start-up
            if not query.enforcement_ready:
                return self.json(NOT_READY, status=503)
            bouncer = enforcement_caller(settings, query, request.headers)
            if bouncer is None:
                return self.json(FORBIDDEN, status=403)
            q = request.query
            startup = q.get("startup", "false").lower()
            if startup not in ("true", "false"):
                return self.json({"message": "startup must be true or false"}, status=400)
            try:
                wait_s = min(MAX_WAIT_S, max(0.0, float(q.get("wait", "0").rstrip("s"))))
            except ValueError:
                return self.json({"message": "wait must be a number of seconds"}, status=400)
            filters = Filters.of(q)
            deadline = time.monotonic() + wait_s
            while True:
                version = query.decisions_version
                now = time.time()
                current = in_force(filters, now)
                delta = cursors.delta(bouncer, current, now, startup == "true")
                if delta and _gone(request):
                    # a poll its bouncer gave up on (aiohttp does not cancel it): the delta
                    # stays for the bouncer's next poll, not for a closed connection
                    return self.bytes(b"", status=499)
                left = deadline - time.monotonic()
                if delta or left <= 0 or startup == "true":
                    break
                expiry = cursors.next_expiry(bouncer, current)
                if expiry is not None:
                    left = min(left, max(0.05, expiry - now))
                await query.wait_for_decisions(version, left)
                await asyncio.sleep(0)  # let a burst of decisions land together
            cursors.delivered(bouncer, delta)
            body = orjson.dumps({"new": delta.new, "deleted": delta.deleted})
            return self.bytes(body, content_type="application/json")

    @app.page("/v1/usage-metrics")
    class UsageMetrics(View):
        async def post(self, request: Request, **_: Any) -> Response:
            # stock bouncers report usage every 15 minutes; taken and dropped
            if enforcement_caller(settings, query, request.headers) is None:
                return self.json(FORBIDDEN, status=403)
            return self.json({}, status=201)
