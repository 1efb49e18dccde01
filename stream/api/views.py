"""The worker's HTTP API (Faust web views): decisions, explain, incidents, health, metrics,
and the dashboard page. ``SCRAPEGUARD_API_TOKEN`` makes every route except ``/health``
and ``/metrics`` require ``Authorization: Bearer <token>``, or the session cookie the
dashboard's sign-in form sets (``POST /login``); a token is never taken from a URL.
A worker answers an ``/explain`` routed by another worker on that worker's own
credential (:mod:`stream.core.peers`), never on the caller's.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from importlib import resources
from typing import Any, cast
from urllib.parse import quote

import aiohttp
import faust
from aiohttp import web
from faust.web import Request, Response, View

from stream.api import bouncer_stream, check
from stream.api.auth import same_secret
from stream.api.explain import explain
from stream.api.query import WorkerQuery
from stream.core.actor_ref import parse_actor
from stream.core.breach_report import build, render
from stream.core.peers import PEER_HEADER, peer_credential, peer_key, peer_ok, plain_origin
from stream.settings import Settings

ROUTED = "X-Scrapeguard-Routed"
SESSION_COOKIE = "scrapeguard_session"
SESSION_MAX_AGE_S = 12 * 3600


def session_value(token: str) -> str:
    """The dashboard's cookie: derived from the token, so the token itself is never stored
    in the browser, and changing the token signs every browser out."""
    return hmac.new(token.encode(), b"scrapeguard/dashboard-session", hashlib.sha256).hexdigest()


def _authorised(settings: Settings, request: Request) -> bool:
    token = settings.api_token
    if token is None:
        return True
    secret = token.get_secret_value()
    given = request.headers.get("Authorization", "")
    if given.startswith("Bearer ") and same_secret(given[7:], secret):
        return True
    cookie = request.cookies.get(SESSION_COOKIE)
    return isinstance(cookie, str) and same_secret(cookie, session_value(secret))


def _bad_query(q: Any) -> tuple[dict[str, Any], str | None]:
    """``limit``, ``since``, ``cursor`` of /decisions, or the sentence saying what is wrong."""
    try:
        limit = int(q.get("limit", "100"))
    except ValueError:
        return {}, "limit must be an integer"
    if not 1 <= limit <= 1000:
        return {}, "limit must be within 1-1000"
    since = None
    if "since" in q:
        try:
            since = float(q["since"])
        except ValueError:
            return {}, "since must be epoch seconds"
        if not math.isfinite(since):
            return {}, "since must be epoch seconds"
    cursor = q.get("cursor")
    if cursor is not None:
        ts_text, sep, did = cursor.partition(":")
        try:
            ok = bool(sep) and math.isfinite(float(ts_text)) and 0 < len(did) <= 128
        except ValueError:
            ok = False
        if not ok:
            return {}, "cursor is not one this API gave (next_cursor)"
    return {"limit": limit, "since": since, "cursor": cursor}, None


def install(app: faust.App, settings: Settings, query: WorkerQuery) -> None:
    """Route the API's views on ``app``'s web server, answering from ``query``."""
    control_key = settings.control_key
    peers = peer_key(control_key.get_secret_value().encode()) if control_key else None

    def from_peer(request: Request) -> bool:
        """A request routed here by another worker, on that worker's own credential."""
        return peers is not None and peer_ok(
            peers, request.headers.get(PEER_HEADER), request.rel_url.path
        )

    def guard(view: Any, request: Request) -> Response | None:
        if _authorised(settings, request):
            return None
        return view.json(
            {"error": "unauthorised: send Authorization: Bearer <token>"},
            status=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    @app.page("/health")
    class Health(View):
        async def get(self, request: Request) -> Response:
            body = await query.health()
            return self.json(body, status=200 if body["ready"] else 503)

    @app.page("/health/serving")
    class Serving(View):
        async def get(self, request: Request) -> Response:
            body = query.serving()  # the readiness probe: answers without the broker
            return self.json(body, status=200 if body["ready"] else 503)

    @app.page("/health/processing")
    class Processing(View):
        async def get(self, request: Request) -> Response:
            body = await query.processing()
            return self.json(body, status=200 if body["ready"] else 503)

    @app.page("/health/live")
    class Live(View):
        async def get(self, request: Request) -> Response:
            # liveness only: the process serves requests (a broker outage is not a reason
            # to restart workers; /health/processing reports it)
            return self.json({"live": True})

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            return self.bytes(query.metrics(), content_type="text/plain; version=0.0.4")

    @app.page("/decisions")
    class Decisions(View):
        async def get(self, request: Request) -> Response:
            if (denied := guard(self, request)) is not None:
                return denied
            q = request.query
            args, error = _bad_query(q)
            if error is not None:
                return self.json({"error": error}, status=400)
            action = q.get("action")
            if action not in (None, "allow", "challenge", "block"):
                return self.json({"error": "action is allow, challenge or block"}, status=400)
            page = query.decisions(
                action, args["since"], q.get("shadow") == "true", args["limit"], args["cursor"]
            )
            return self.json({"items": page.items, "next_cursor": page.next_cursor})

    # the actor may contain "/" (tenant/account:42), encoded or not
    @app.page("/decisions/{actor:.+}")
    class ActorDecision(View):
        async def get(self, request: Request, actor: str) -> Response:
            if (denied := guard(self, request)) is not None:
                return denied
            try:  # as decisions name it: ip:2001:DB8::1 is ip:2001:db8::1
                actor = parse_actor(actor).key
            except ValueError as exc:  # 404 means "no decision", never "bad path"
                return self.json({"actor": actor[:200], "error": str(exc)}, status=400)
            current = query.current_decision(actor, time.time())
            if current is None:
                return self.json(
                    {"actor": actor, "error": "no decision for this actor"}, status=404
                )
            return self.json(current)

    @app.page("/explain/{actor}")
    class Explain(View):
        async def get(self, request: Request, actor: str) -> Response:
            routed = from_peer(request)
            if not routed and (denied := guard(self, request)) is not None:
                return denied
            try:  # as the detector names it (and routes it to a partition)
                actor = parse_actor(actor).key
            except ValueError as exc:
                return self.json({"actor": actor[:200], "error": str(exc)}, status=400)
            view = query.actor(actor)
            if not view.owned and not routed and not request.headers.get(ROUTED):
                url = query.owner_url(view.partition)
                if url is not None and peers is not None and plain_origin(url):
                    return await self._route(url, actor)
            body = explain(actor, view.state, view.policy, view.history, view.model, time.time())
            body["answered_by"] = query.worker_id
            body["partition"] = view.partition
            if not view.owned:
                body["words"].insert(
                    0, f"Partition {view.partition} is not owned by any live worker now."
                )
            return self.json(body)

        async def _route(self, url: str, actor: str) -> Response:
            # the owner's URL comes from a signed member record; the request carries this
            # worker's credential for exactly this path — never the caller's token
            assert peers is not None
            path = f"/explain/{quote(actor, safe='')}"
            headers = {ROUTED: "1", PEER_HEADER: peer_credential(peers, path)}
            try:
                async with (
                    aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as s,
                    s.get(
                        f"{url.rstrip('/')}{path}", headers=headers, allow_redirects=False
                    ) as resp,
                ):
                    return self.bytes(
                        await resp.read(), status=resp.status, content_type="application/json"
                    )
            except (aiohttp.ClientError, TimeoutError) as exc:  # the owner stopped or hangs
                error = f"the worker that owns its partition did not answer ({type(exc).__name__})"
                return self.json({"actor": actor, "error": error}, status=502)

    @app.page("/incidents")
    class Incidents(View):
        async def get(self, request: Request) -> Response:
            if (denied := guard(self, request)) is not None:
                return denied
            status = request.query.get("status", "open")
            if status not in ("open", "closed", "all"):
                return self.json({"error": "status is open, closed or all"}, status=400)
            return self.json({"items": query.incidents(status)})

    @app.page("/incidents/{incident_id}/report")
    class IncidentReport(View):
        async def get(self, request: Request, incident_id: str) -> Response:
            if (denied := guard(self, request)) is not None:
                return denied
            inc = query.incident(incident_id)
            if inc is None:
                return self.json({"error": f"no incident {incident_id}"}, status=404)
            fmt = request.query.get("format", "html")
            if fmt not in ("html", "md", "json"):
                return self.json({"error": "format is html, md or json"}, status=400)
            text = render(build(inc, None), fmt)
            types = {"html": "text/html", "md": "text/markdown", "json": "application/json"}
            return self.text(text, content_type=types[fmt])

    @app.page("/api/summary")
    class Summary(View):
        async def get(self, request: Request) -> Response:
            if (denied := guard(self, request)) is not None:
                return denied
            return self.json(query.summary())

    check.install(app, settings, query)  # GET /check (gateways)
    bouncer_stream.install(app, settings, query)  # GET /v1/decisions/stream (bouncers)

    @app.page("/")
    class Dashboard(View):
        async def get(self, request: Request) -> Response:
            # the page holds no data; what it shows comes from the guarded routes
            page = resources.files("stream.api").joinpath("static/dashboard.html").read_text()
            return self.html(page)

    @app.page("/login")
    class Login(View):
        async def post(self, request: Request) -> Response:
            """The dashboard's sign-in form: the token in, an HttpOnly session cookie out."""
            token = settings.api_token
            form = await request.post()
            given = form.get("token", "")
            if token is None or not isinstance(given, str):
                return self.json({"error": "sign-in is not needed here"}, status=400)
            secret = token.get_secret_value()
            if not same_secret(given, secret):
                return self.html(
                    "<!doctype html><title>scrapeguard</title><p>Wrong token. "
                    '<a href="/">Try again</a></p>',
                    status=401,
                )
            resp = cast(web.Response, self.html("", status=303, headers={"Location": "/"}))
            resp.set_cookie(
                SESSION_COOKIE,
                session_value(secret),
                max_age=SESSION_MAX_AGE_S,
                httponly=True,
                samesite="Strict",
                path="/",
            )
            return cast(Response, resp)

    @app.page("/logout")
    class Logout(View):
        async def post(self, request: Request) -> Response:
            resp = cast(web.Response, self.html("", status=303, headers={"Location": "/"}))
            resp.del_cookie(SESSION_COOKIE, path="/")
            return cast(Response, resp)
