"""This worker's answers to the HTTP API (:class:`stream.api.query.WorkerQuery`)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from stream.api.query import ActorView
from stream.core.decision_index import Entry
from stream.core.decision_store import Page
from stream.kafka.writer import WriterService, partition_for
from stream.runtime.correlator_agent import CorrelatorAgent
from stream.runtime.detector_agent import Detector
from stream.runtime.global_view import GlobalView
from stream.runtime.incidents_agent import IncidentsAgent
from stream.runtime.lag import faust_lags
from stream.settings import Settings


@dataclass
class WorkerQueries:
    settings: Settings
    writer: WriterService
    detector: Detector
    correlator: CorrelatorAgent
    incidents_agent: IncidentsAgent
    view: GlobalView

    @property
    def worker_id(self) -> str:
        return self.view.worker_id

    async def broker_reachable(self) -> bool:
        try:
            producer = self.writer.writer.producer
            return bool(await asyncio.wait_for(producer.client.fetch_all_metadata(), 2.0))
        except Exception:
            return False

    def serving(self) -> dict[str, Any]:
        # the decision API answers from memory once the global view has caught up once;
        # a broker outage later leaves what it holds (and so the answers) in place
        return {"ready": self.view.ready, "worker": self.view.worker_id}

    def _joined(self) -> bool:
        """Every agent has had an assignment of its consumer group."""
        return (
            self.detector.ready.is_set()
            and self.correlator.ready.is_set()
            and self.incidents_agent.ready.is_set()
        )

    async def processing(self) -> dict[str, Any]:
        reachable = await self.broker_reachable()
        return {
            "ready": reachable and self._joined(),
            "broker_reachable": reachable,
            "partitions": sorted(self.detector.partitions),
            "worker": self.view.worker_id,
        }

    async def health(self) -> dict[str, Any]:
        d = self.detector
        reachable = await self.broker_reachable()
        serving = self.view.ready
        processing = reachable and self._joined()
        ready = serving and processing
        labels = d.models.labels()
        return {
            "status": "ok" if ready else "not ready",
            "live": True,
            "ready": ready,
            "serving_ready": serving,
            "processing_ready": processing,
            "broker_reachable": reachable,
            "partitions": sorted(d.partitions),
            "correlator_partitions": sorted(self.correlator.owned),
            "incident_partitions": sorted(self.incidents_agent.owned),
            "active_actors": d.active_actors(),
            "events": d.stats.get("events", 0),
            "forwarded": d.stats.get("forwarded", 0),
            "deadlettered": sum(v for k, v in d.stats.items() if k.startswith("dead_")),
            "model": labels["live"],
            "shadow_model": labels["shadow"],
            "model_control": dict(d.models.stats),
            "shadow": d.policy.shadow,
            "open_incidents": self.incidents_agent.open_incidents(),
            "worker": self.view.worker_id,
            # records each stage has consumed, for harnesses that wait for the pipeline to
            # settle (activity → correlator → group signals → detector; feed → incidents)
            "pipeline": {
                "activities": self.correlator.stats["records"],
                # every signal record read: applied, or left by the policy, or refused
                "group_signals": d.stats.get("group_signal_records", 0),
                "feed_items": self.incidents_agent.stats["records"],
            },
        }

    def actor(self, actor: str) -> ActorView:
        d = self.detector
        p = partition_for(actor.encode(), self.settings.partitions)
        det = d.partitions.get(p)
        return ActorView(
            actor=actor,
            partition=p,
            owned=det is not None,
            state=det.actors.peek(actor) if det is not None else None,
            policy=d.policy,
            history=self.view.store.history(actor),
            model=det.model_label if det is not None else d.models.labels()["live"] or "",
        )

    def owner_url(self, partition: int) -> str | None:
        return self.view.owner_url(partition)

    def current_decision(self, actor: str, now: float) -> dict[str, Any] | None:
        return self.view.store.current(actor, now)

    def decisions(
        self,
        action: str | None,
        since: float | None,
        include_shadow: bool,
        limit: int,
        cursor: str | None,
    ) -> Page:
        return self.view.store.query(action, since, include_shadow, limit, cursor)

    def incidents(self, status: str) -> list[dict[str, Any]]:
        rows = [i for i in self.view.incidents.values() if status == "all" or i["status"] == status]
        rows.sort(key=lambda i: i["last_activity_at"], reverse=True)
        return rows

    def incident(self, incident_id: str) -> dict[str, Any] | None:
        return self.view.incidents.get(incident_id)

    def summary(self) -> dict[str, Any]:
        d = self.detector
        return {
            "timeline": self.view.timeline(),
            "top_reasons": self.view.reasons.most_common(10),
            "open_incidents": self.view.open_incidents()[:20],
            "score_histogram": d.score_histogram(),
            "current": self.view.store.counts(),
            "events": d.stats.get("events", 0),
            "model": d.models.labels(),
            "manual": [m.as_dict() for m in list(self.view.manual_recent)[:20]],
        }

    def metrics(self) -> bytes:
        d = self.detector
        d.update_gauges()
        m = d.metrics
        m.open_incidents.set(len(self.view.open_incidents()))
        m.lag_of(self.settings.app_id).update(faust_lags(self.correlator.app.consumer))
        return m.render()

    # -- enforcement -------------------------------------------------------------------
    @property
    def enforcement_ready(self) -> bool:
        return self.view.ready

    def check(
        self,
        now: float,
        tenant: str | None,
        account: str | None,
        session: str | None,
        ip: str | None,
    ) -> Entry | None:
        return self.view.index.lookup(now, tenant, account, session, ip)

    def in_force(self, now: float) -> Iterable[Entry]:
        return self.view.index.active(now)

    @property
    def decisions_version(self) -> int:
        return self.view.index.version

    async def wait_for_decisions(self, version: int, timeout_s: float) -> None:
        await self.view.wait_for_change(version, timeout_s)

    def bouncer(self, key: str) -> str | None:
        return self.view.bouncers.name_for(key)

    def has_bouncers(self) -> bool:
        return len(self.view.bouncers) > 0
