"""The worker's HTTP API (Faust web views): decisions, explain, incidents, health, metrics,
and the dashboard page. ``SCRAPEGUARD_API_TOKEN`` makes every route except ``/health``
and ``/metrics`` require ``Authorization: Bearer <token>`` (or ``?token=``).
"""

from __future__ import annotations

import asyncio
import hmac
import time
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import quote

import aiohttp
import faust
from faust.web import Request, Response, View

from stream.api.explain import explain
from stream.core.breach_report import build, render
from stream.kafka.writer import partition_for
from stream.runtime.correlator_agent import Correlator
from stream.runtime.detector_agent import Detector
from stream.runtime.global_view import GlobalView
from stream.runtime.incidents_agent import IncidentAgent
from stream.settings import Settings

ROUTED = "X-Scrapeguard-Routed"


@dataclass
class Backend:
    settings: Settings
    detector: Detector
    correlator: Correlator
    incidents: IncidentAgent
    view: GlobalView

    def authorised(self, request: Request) -> bool:
        token = self.settings.api_token
        if token is None:
            return True
        given = request.headers.get("Authorization", "")
        given = given[7:] if given.startswith("Bearer ") else request.query.get("token", "")
        return hmac.compare_digest(given.encode(), token.get_secret_value().encode())

    async def broker_reachable(self) -> bool:
        producer = self.detector.producer
        if producer is None:
            return False
        try:
            return bool(await asyncio.wait_for(producer.client.fetch_all_metadata(), 2.0))
        except Exception:
            return False


def install(app: faust.App, b: Backend) -> None:
    def guard(view: Any, request: Request) -> Response | None:
        if b.authorised(request):
            return None
        return view.json(
            {"error": "unauthorised: send Authorization: Bearer <token>"},
            status=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    @app.page("/health")
    class Health(View):
        async def get(self, request: Request) -> Response:
            d = b.detector
            reachable = await b.broker_reachable()
            ready = (
                reachable
                and d.ready.is_set()
                and b.correlator.ready.is_set()
                and b.incidents.ready.is_set()
                and b.view.ready
            )
            body: dict[str, Any] = {
                "status": "ok" if ready else "not ready",
                "live": True,
                "ready": ready,
                "broker_reachable": reachable,
                "partitions": sorted(d.partitions),
                "correlator_partitions": sorted(b.correlator.partitions),
                "incident_partitions": sorted(b.incidents.books),
                "active_actors": d.active_actors(),
                "events": d.stats.get("events", 0),
                "forwarded": d.stats.get("forwarded", 0),
                "deadlettered": sum(v for k, v in d.stats.items() if k.startswith("dead_")),
                "model": d.models.labels()["live"],
                "shadow_model": d.models.labels()["shadow"],
                "model_control": dict(d.models.stats),
                "shadow": d.policy.shadow,
                "open_incidents": b.incidents.open_incidents(),
                "worker": b.view.worker_id,
            }
            return self.json(body, status=200 if ready else 503)

    @app.page("/health/live")
    class Live(View):
        async def get(self, request: Request) -> Response:
            # liveness only: the process serves requests (a broker outage is not a reason
            # to restart workers; readiness on /health covers that)
            return self.json({"live": True})

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            b.detector.update_gauges()
            b.detector.metrics.open_incidents.set(len(b.view.open_incidents()))
            return self.bytes(b.detector.metrics.render(), content_type="text/plain; version=0.0.4")

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
            page = b.view.store.query(
                action, since, q.get("shadow") == "true", limit, q.get("cursor")
            )
            return self.json({"items": page.items, "next_cursor": page.next_cursor})

    @app.page("/decisions/{actor}")
    class ActorDecision(View):
        async def get(self, request: Request, actor: str) -> Response:
            if (denied := guard(self, request)) is not None:
                return denied
            current = b.view.store.current(actor, time.time())
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
            d = b.detector
            p = partition_for(actor.encode(), b.settings.partitions)
            det = d.partitions.get(p)
            if det is None and not request.headers.get(ROUTED):
                url = b.view.owner_url(p)
                if url is not None:
                    return await self._route(request, url, actor)
            body = explain(
                actor,
                det.actors.peek(actor) if det else None,
                d.policy,
                b.view.store.history(actor),
                det.model_label if det else d.models.labels()["live"] or "",
                time.time(),
            )
            body["answered_by"] = b.view.worker_id
            body["partition"] = p
            if det is None:
                body["words"].insert(0, f"Partition {p} is not owned by any live worker now.")
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
            rows = [
                i for i in b.view.incidents.values() if status == "all" or i["status"] == status
            ]
            rows.sort(key=lambda i: i["last_activity_at"], reverse=True)
            return self.json({"items": rows})

    @app.page("/incidents/{incident_id}/report")
    class IncidentReport(View):
        async def get(self, request: Request, incident_id: str) -> Response:
            if (denied := guard(self, request)) is not None:
                return denied
            inc = b.view.incidents.get(incident_id)
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
            d = b.detector
            return self.json(
                {
                    "timeline": b.view.timeline(),
                    "top_reasons": b.view.reasons.most_common(10),
                    "open_incidents": b.view.open_incidents()[:20],
                    "score_histogram": d.score_histogram(),
                    "current": b.view.store.counts(),
                    "events": d.stats.get("events", 0),
                    "model": d.models.labels(),
                }
            )

    @app.page("/")
    class Dashboard(View):
        async def get(self, request: Request) -> Response:
            page = resources.files("stream.api").joinpath("static/dashboard.html").read_text()
            return self.html(page)
