"""The Faust application that hosts a scrapeguard worker, and how its parts fit together.

Faust gives the worker its lifecycle (start/stop, signals), its web server (the HTTP
API) and the consumer group of the low-volume agents. Per worker:

* one producer (:class:`~stream.kafka.writer.WriterService`), shared by everything that
  writes;
* the global view: one reader that follows control, decisions, incidents and members;
* the detector: a batched consumer of ``requests`` and group signals (its own group:
  the bench shows why, ``faust_agent_throughput_eps``);
* the correlator and incidents agents: genuine ``@app.agent`` s in Faust's group.
"""

from __future__ import annotations

from dataclasses import dataclass

import faust
from faust.tables import TableManager
from mode import Service

from stream.api.views import install
from stream.core.ledger import LedgerCodec, Sealer
from stream.core.policy import Policy
from stream.core.pseudonym import Pseudonymizer
from stream.kafka.config import faust_kwargs, group_timing
from stream.kafka.writer import WriterService
from stream.runtime.correlator_agent import CorrelatorAgent
from stream.runtime.detector_agent import Detector
from stream.runtime.global_view import GlobalView
from stream.runtime.incidents_agent import IncidentsAgent
from stream.runtime.metrics import Metrics
from stream.runtime.worker_query import WorkerQueries
from stream.settings import Settings

INCIDENT_EVICTIONS = (
    "incident_pending_key",
    "incident_pending_item",
    "open_incident",
    "incident_user_agent",
    "incident_field",
    "incident_decision",
)


@dataclass
class Worker:
    app: faust.App
    writer: WriterService
    detector: Detector
    correlator: CorrelatorAgent
    incidents: IncidentsAgent
    view: GlobalView

    def evictions(self) -> dict[str, int]:
        """Every bound's evictions by kind (``scrapeguard_state_evictions_total``)."""
        out = {
            "actor": self.detector.stats.get("evicted_actors", 0),
            "correlation_group": self.correlator.stats.get("evicted_groups", 0),
            "control_id": self.detector.models.slots.forgotten_ids,
            "view_decision_actor": self.view.store.evicted,
            "view_incident": self.view.stats.get("evicted_incident", 0),
            "view_member": self.view.stats.get("evicted_member", 0),
            "reason_code": self.view.stats.get("evicted_reason_code", 0),
            # states that did not encode: dropped, tombstoned (batch_outputs.state_bytes)
            "unencodable_state": sum(
                agent.stats.get("state_unencodable", 0)
                for agent in (self.detector, self.correlator, self.incidents)
            ),
        }
        for kind in INCIDENT_EVICTIONS:
            out[kind] = 0
        out.update(self.incidents.evictions())
        return out

    def skipped(self) -> dict[str, int]:
        """Records of internal topics refused or skipped, by kind (each also logged)."""
        d, models = self.detector, self.detector.models
        return {
            "group_signal": d.stats.get("bad_group_signal", 0)
            + d.stats.get("skipped_group_signal", 0),
            "activity": self.correlator.stats.get("bad_activity", 0)
            + self.correlator.stats.get("skipped_activity", 0),
            # correlator changelog records that did not read at restore
            "group_state": self.correlator.stats.get("group_state_skipped", 0),
            "feed_item": self.incidents.stats.get("bad_feed_item", 0)
            + self.incidents.stats.get("skipped_feed_item", 0),
            "member": self.view.stats.get("members_refused", 0),
            "global_view_record": self.view.reader.stats.get("skipped", 0),
            "control_message": sum(
                n for k, n in models.stats.items() if k.startswith("control_refused_")
            ),
            "model_snapshot": models.stats.get("snapshot_refused", 0),
            # actor-state changelog records refused at restore or when first decoded
            "actor_state": d.stats.get("state_unreadable", 0),
        }


class NoTablesManager(TableManager):
    """Faust's table manager without its one-second wait at start.

    Faust sleeps a second before it subscribes its consumer, so that tables declared while
    the app starts are registered first. A worker declares no Faust table (its state lives
    in scrapeguard's own changelogs), so on every start that second was only a delay
    before Faust's group join, which readiness waits for."""

    async def on_start(self) -> None:
        if not self.should_stop:
            await self._update_channels()
            await self.recovery.start()


def create_app(settings: Settings) -> faust.App:
    """The worker's Faust app: its consumer group, rebalance timing and web server."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # Faust creates only the last level
    session_s, heartbeat_s = group_timing(settings)
    return faust.App(
        settings.app_id,
        autodiscover=False,
        # where Faust keeps its own files (it writes a version marker there)
        datadir=str(settings.data_dir / "faust"),
        # Faust's internal topics (the assignor's leader topic) get this replication
        topic_replication_factor=settings.replication_factor,
        # topics are created by scrapeguard with the right partition counts and configs
        topic_allow_declare=False,
        # a group join takes seconds, not Faust's default of ~30 s on the embedded broker;
        # the same session as the detector's group (6 s by default: Kafka's minimum)
        broker_rebalance_timeout=6.0,
        broker_session_timeout=session_s,
        broker_heartbeat_interval=heartbeat_s,
        consumer_auto_offset_reset="earliest",
        # events buffered per agent stream: packs of up to 256 KB each (stream.kafka.packs);
        # Faust's 4,096 could hold a gigabyte of them while an agent catches up
        stream_buffer_maxsize=64,
        TableManager=NoTablesManager,
        web_enabled=settings.web_port > 0,
        web_port=settings.web_port or 6066,
        web_bind=settings.web_host,
        web_host=settings.web_host,
        **faust_kwargs(settings),
    )


def start_with_app(app: faust.App, *services: Service) -> None:
    """Start ``services`` with the app, before Faust's own services, and stop them after.

    ``app.service`` would start them only once Faust's consumer group has given its first
    assignment (``App.on_started`` waits for table recovery), so the detector's group
    join would begin when Faust's had ended: two joins one after the other on every
    restart. As dependencies of the app they start first (in order: the detector's
    consumer joins its group in a task of its own) and stop last, in reverse order, so
    the shared writer stops after everything that writes.
    """
    for service in services:
        app.add_dependency(service)


def create_worker(settings: Settings, policy: Policy, pseudonymizer: Pseudonymizer) -> Worker:
    """A Faust app with every part of a worker and its HTTP API."""
    sealer = (
        Sealer(settings.ledger_key.get_secret_value().encode()) if settings.ledger_key else None
    )
    app = create_app(settings)
    writer = WriterService(settings)
    metrics = Metrics()
    detector = Detector(
        settings, policy, writer, metrics=metrics, ledger=LedgerCodec(pseudonymizer, sealer)
    )
    view = GlobalView(settings, writer, lambda: set(detector.partitions), detector.models.receive)
    correlator = CorrelatorAgent(app, settings, policy, writer)
    detector.models.on_policy += [detector.use_policy, correlator.use_policy]
    incidents = IncidentsAgent(app, settings, pseudonymizer, writer)
    correlator.attach_metrics(metrics)
    incidents.attach_metrics(metrics)

    # the detector scores nothing before the control log has been read to its end
    detector.control_caught_up = view.caught_up
    start_with_app(app, writer, view, detector)
    install(app, settings, WorkerQueries(settings, writer, detector, correlator, incidents, view))
    parts = Worker(app, writer, detector, correlator, incidents, view)
    detector.metrics.watch_evictions(parts.evictions)
    detector.metrics.watch_skipped(parts.skipped)
    return parts
