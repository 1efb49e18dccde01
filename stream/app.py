"""The Faust application that hosts a scrapeguard worker.

Faust gives the worker its lifecycle (start/stop, signals), the web server and the
service tree; the detector agent (:mod:`stream.detector`) runs in it as a service.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.app.base import BootStrategy
from faust.web import Request, Response, View

from stream.correlator import Correlator
from stream.detector import Detector
from stream.kafka_config import faust_kwargs
from stream.settings import Settings


class _BootStrategy(BootStrategy):
    # No Faust agent consumes topics (yet): skip Faust's own consumer group, whose
    # join would only add start-up time. The detector has its own batched consumer.
    enable_kafka_consumer = False


class _App(faust.App):
    BootStrategy = _BootStrategy


def create_app(settings: Settings, detector: Detector, correlator: Correlator) -> faust.App:
    """A Faust app with the detector service and the worker's HTTP views."""
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
    app.service(detector)  # type: ignore[arg-type]
    app.service(correlator)  # type: ignore[arg-type]

    @app.page("/health")
    class Health(View):
        async def get(self, request: Request) -> Response:
            ready = detector.ready.is_set() and correlator.ready.is_set()
            body: dict[str, Any] = {
                "status": "ok" if ready else "starting",
                "live": True,
                "ready": ready,
                "partitions": sorted(detector.partitions),
                "correlator_partitions": sorted(correlator.partitions),
                "active_actors": detector.active_actors(),
                "events": detector.stats.get("events", 0),
                "forwarded": detector.stats.get("forwarded", 0),
                "deadlettered": sum(v for k, v in detector.stats.items() if k.startswith("dead_")),
                "model": detector.models.labels()["live"],
                "shadow_model": detector.models.labels()["shadow"],
                "model_control": dict(detector.models.stats),
                "shadow": detector.policy.shadow,
            }
            return self.json(body, status=200 if ready else 503)

    return app
