"""``GET /check``: the decision for the request a gateway is about to serve.

For nginx ``auth_request``, Envoy ``ext_authz`` (HTTP) and Traefik ``forwardAuth``: the
gateway forwards the client's identity headers, and the answer is **200** (allow), **401**
(challenge) or **403** (block) — the codes all three understand — with
``X-Scrapeguard-Action``, ``X-Scrapeguard-Reason``, ``X-Scrapeguard-Decision-Id`` and,
where a decision has an end, ``Retry-After`` (seconds). Any method and any path below
``/check/`` are answered alike (Envoy appends the original path to its prefix).

Identities: the account (``X-Account-Id``), the session (``X-Session-Id``), the tenant
(only where ``check_tenant_header`` names a header: the gateway's to set, never the
client's) and the client address — ``X-Forwarded-For`` / ``X-Real-IP``, believed
only when the request comes from a trusted proxy, and read right to left past the trusted
proxies (so a client cannot name another address). Header names and proxies are settings.
The strictest decision in force about any of them wins.

Answers come from the worker's own index of the decisions in force (no I/O); before the
worker has read the decisions to their end it answers as ``check_when_not_ready`` says,
whatever the key (bouncer keys are read with them). Then a wrong or missing key (see
:mod:`stream.api.auth`) gets 403 — a gateway then denies.
"""

from __future__ import annotations

import math
import time
from typing import Any

import faust
from aiohttp import web
from faust.web import Request, Response, View

from stream.api.auth import enforcement_caller
from stream.api.query import WorkerQuery
from stream.core.actions import Action
from stream.core.client_address import TrustedProxies, valid_address
from stream.core.decision_index import Entry
from stream.settings import Settings

STATUS = {Action.ALLOW: 200, Action.CHALLENGE: 401, Action.BLOCK: 403}
MAX_ID_CHARS = 512


class ClientAddress:
    """The client's address from the peer and the configured headers, the first of them
    a request carries (:class:`~stream.core.client_address.TrustedProxies`)."""

    def __init__(self, trusted: list[str], headers: list[str]) -> None:
        self.proxies = TrustedProxies(trusted)
        self.headers = list(headers)

    def of(self, peer: str | None, headers: Any) -> str | None:
        if peer is None or not self.proxies.vouches(peer):
            return valid_address(peer)
        for name in self.headers:
            # every line of the header: a proxy may add its own after the client's
            value = ",".join(headers.getall(name, ()))
            if value:
                return self.proxies.client(peer, value)
        return valid_address(peer)


def _ident(headers: Any, name: str) -> str | None:
    value = headers.get(name)
    if not value:
        return None
    return value[:MAX_ID_CHARS]


def _header_text(text: str) -> str:
    """Printable ASCII for a response header (operators' reasons are free text)."""
    return "".join(c if 32 <= ord(c) < 127 else "?" for c in text)[:300]


def answer(entry: Entry | None, now: float) -> tuple[int, dict[str, str]]:
    if entry is None:
        return 200, {"X-Scrapeguard-Action": "allow"}
    d = entry.decision
    headers = {
        "X-Scrapeguard-Action": entry.action.label,
        "X-Scrapeguard-Reason": _header_text("; ".join(d.reasons)),
        "X-Scrapeguard-Decision-Id": _header_text(d.decision_id),
        "X-Scrapeguard-Origin": d.origin,
    }
    if entry.restricts:
        headers["Retry-After"] = str(max(1, math.ceil(entry.until - now)))
    return STATUS[entry.action], headers


def handler(settings: Settings, query: WorkerQuery) -> Any:
    """The aiohttp handler of ``/check`` (any method)."""
    address = ClientAddress(settings.trusted_proxies, settings.check_ip_headers)
    h_account = settings.check_account_header
    h_session = settings.check_session_header
    h_tenant = settings.check_tenant_header
    fail_open = settings.check_when_not_ready == "open"

    async def check(request: web.Request) -> web.Response:
        headers = request.headers
        # readiness before the key: bouncer keys are read with the decisions, so before then
        # a bouncer's key is not yet known, and a 403 would block every visitor of the site
        # while a worker restarts
        if not query.enforcement_ready:
            if fail_open:
                return web.Response(
                    status=200,
                    headers={"X-Scrapeguard-Action": "allow", "X-Scrapeguard-Reason": "not_ready"},
                )
            return web.Response(
                status=503,
                text="scrapeguard: decisions not read yet\n",
                headers={"X-Scrapeguard-Reason": "not_ready", "Retry-After": "1"},
            )
        if enforcement_caller(settings, query, headers) is None:
            return web.Response(
                status=403,
                text="scrapeguard: wrong or missing X-Api-Key\n",
                headers={"X-Scrapeguard-Error": "bad api key"},
            )
        now = time.time()
        entry = query.check(
            now,
            _ident(headers, h_tenant) if h_tenant else None,
            _ident(headers, h_account),
            _ident(headers, h_session),
            address.of(request.remote, headers),
        )
        status, out = answer(entry, now)
        body = None if status == 200 else f"scrapeguard: {out['X-Scrapeguard-Action']}\n"
        return web.Response(status=status, headers=out, text=body)

    return check


def install(app: faust.App, settings: Settings, query: WorkerQuery) -> None:
    """Route ``/check`` and ``/check/{path}`` (every method) on ``app``'s web server."""
    check = handler(settings, query)

    class Check(View):
        async def get(self, request: Request, **_: Any) -> Response:
            return await check(request)

        head = post = put = patch = delete = options = get

    app.page("/check")(Check)
    app.page("/check/{path:.*}")(type("CheckPath", (Check,), {}))
