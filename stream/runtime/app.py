"""The Faust application that hosts a scrapeguard worker.

Faust gives the worker its lifecycle (start/stop, signals), the web server and the
service tree. In it run the batched agents — detector, correlator, incidents — and
the global view that every worker keeps of decisions, incidents and members.
"""

from __future__ import annotations

from dataclasses import dataclass

import faust
from faust.app.base import BootStrategy

from stream.api.views import Backend, install
from stream.core.ledger import LedgerCodec, Sealer
from stream.core.policy import Policy
from stream.core.pseudonym import Pseudonymizer
from stream.kafka.config import faust_kwargs
from stream.runtime.correlator_agent import Correlator
from stream.runtime.detector_agent import Detector
from stream.runtime.global_view import GlobalView
from stream.runtime.incidents_agent import IncidentAgent
from stream.settings import Settings


class _BootStrategy(BootStrategy):
    # No Faust agent consumes topics: skip Faust's own consumer group, whose join would
    # only add start-up time. The agents have their own batched consumers.
    enable_kafka_consumer = False


class _App(faust.App):
    BootStrategy = _BootStrategy


@dataclass
class Worker:
    app: faust.App
    detector: Detector
    correlator: Correlator
    incidents: IncidentAgent
    view: GlobalView


def create_worker(settings: Settings, policy: Policy, pseudonymizer: Pseudonymizer) -> Worker:
    """A Faust app with every agent of a worker and its HTTP views."""
    sealer = (
        Sealer(settings.ledger_key.get_secret_value().encode()) if settings.ledger_key else None
    )
    detector = Detector(settings, policy, ledger=LedgerCodec(pseudonymizer, sealer))
    correlator = Correlator(settings, policy)
    incidents = IncidentAgent(settings, pseudonymizer)
    view = GlobalView(settings, lambda: set(detector.partitions))
    app = _App(
        settings.app_id,
        autodiscover=False,
        store="memory://",
        datadir=str(settings.data_dir / "faust"),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        web_enabled=settings.web_port > 0,
        web_port=settings.web_port or 6066,
        web_bind=settings.web_host,
        web_host=settings.web_host,
        **faust_kwargs(settings),
    )
    # Faust starts registered service *instances* too (App._prepare_subservice)
    for service in (view, detector, correlator, incidents):
        app.service(service)  # type: ignore[arg-type]
    install(app, Backend(settings, detector, correlator, incidents, view))
    return Worker(app, detector, correlator, incidents, view)
