"""The worker's HTTP API (Faust web views): decisions, explain, incidents, health, metrics,
and the dashboard page. ``SCRAPEGUARD_API_TOKEN`` makes every route except ``/health``
and ``/metrics`` require ``Authorization: Bearer <token>`` (or ``?token=``).
"""

from __future__ import annotations

import hmac
import time
from importlib import resources
from typing import Any
from urllib.parse import quote

import aiohttp
import faust
from faust.web import Request, Response, View

from stream.api import bouncer_stream, check
from stream.api.explain import explain
from stream.api.query import WorkerQuery
from stream.core.actor_ref import parse_actor
from stream.core.breach_report import build, render
from stream.settings import Settings

ROUTED = "X-Scrapeguard-Routed"


def _authorised(settings: Settings, request: Request) -> bool:
    token = settings.api_token
    if token is None:
        return True
    given = request.headers.get("Authorization", "")
    given = given[7:] if given.startswith("Bearer ") else request.query.get("token", "")
    return hmac.compare_digest(given.encode(), token.get_secret_value().encode())


def install(app: faust.App, settings: Settings, query: WorkerQuery) -> None:
    """Route the API's views on ``app``'s web server, answering from ``query``."""

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
            try:
                limit = min(1000, max(1, int(q.get("limit", "100"))))
                since = float(q["since"]) if "since" in q else None
            except ValueError:
                return self.json(
                    {"error": "limit must be an integer, since epoch seconds"}, status=400
                )
            action = q.get("action")
            if action not in (None, "allow", "challenge", "block"):
                return self.json({"error": "action is allow, challenge or block"}, status=400)
            page = query.decisions(action, since, q.get("shadow") == "true", limit, q.get("cursor"))
            return self.json({"items": page.items, "next_cursor": page.next_cursor})

    # the actor may contain "/" (tenant/account:42), encoded or not
    @app.page("/decisions/{actor:.+}")
    class ActorDecision(View):
        async def get(self, request: Request, actor: str) -> Response:
            if (denied := guard(self, request)) is not None:
                return denied
            try:
                parse_actor(actor)
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
            if (denied := guard(self, request)) is not None:
                return denied
            view = query.actor(actor)
            if not view.owned and not request.headers.get(ROUTED):
                url = query.owner_url(view.partition)
                if url is not None:
                    return await self._route(request, url, actor)
            body = explain(actor, view.state, view.policy, view.history, view.model, time.time())
            body["answered_by"] = query.worker_id
            body["partition"] = view.partition
            if not view.owned:
                body["words"].insert(
                    0, f"Partition {view.partition} is not owned by any live worker now."
                )
            return self.json(body)

        async def _route(self, request: Request, url: str, actor: str) -> Response:
            headers = {ROUTED: "1"}
            if "Authorization" in request.headers:
                headers["Authorization"] = request.headers["Authorization"]
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as s,
                s.get(
                    f"{url}/explain/{quote(actor, safe='')}",
                    headers=headers,
                    params=dict(request.query),
                ) as resp,
            ):
                return self.bytes(
                    await resp.read(), status=resp.status, content_type="application/json"
                )

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
            page = resources.files("stream.api").joinpath("static/dashboard.html").read_text()
            return self.html(page)
