"""The detector's pipeline as a genuine Faust agent, for ``faust_agent_throughput_eps``.

The worker runs its detector as a batched consumer (:mod:`stream.kafka.batch_consumer`)
and its low-volume agents as Faust agents (:mod:`stream.runtime.faust_agent`). This module
measures the choice: the same per-partition pipeline
(:class:`~stream.core.partition_detector.PartitionDetector`), the same state restored from
the same changelog, the same messages out (:func:`stream.runtime.batch_outputs.add_outcome`)
and the same publish-then-ack protocol through the worker's batch writer — but consumed
by ``@app.agent`` with ``stream.take_events`` in the worker's own Faust configuration
(:func:`stream.runtime.app.create_app`). Not included (they are not on the measured
path): group signals, model control and snapshots.

Run as ``python -m stream.harness.bench.faust_detector worker`` with the ``SCRAPEGUARD_*``
settings of the bench; ``GET /progress`` says how many events it did and when.
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Mapping
from typing import Any

import faust

from models import REGISTRY
from stream.core.batch import Limits
from stream.core.partition_detector import PartitionDetector
from stream.core.policy_loader import load_policy
from stream.kafka.changelog import StateChangelog
from stream.kafka.writer import Publish, WriterService
from stream.runtime.app import create_app
from stream.runtime.batch_outputs import add_outcome
from stream.runtime.detector_agent import checked_state
from stream.runtime.faust_agent import BatchedFaustAgent
from stream.settings import Settings


class FaustDetector(BatchedFaustAgent):
    name = "faust-detector"
    max_batch = 5000
    within_s = 0.01

    def __init__(self, app: faust.App, settings: Settings, writer: WriterService) -> None:
        self.policy = load_policy(settings.policy_file)
        self.spec = REGISTRY.get(settings.model).spec(settings.model_params)
        self.partitions: dict[int, PartitionDetector] = {}
        self.progress: dict[str, Any] = {"events": 0, "first": None, "last": None}
        super().__init__(app, settings, settings.topic_requests, writer)

    async def restore(self, partitions: set[int]) -> None:
        s = self.settings
        changelog = StateChangelog(
            s, self.writer.writer.producer, s.state_topic, checked_state
        )
        restored = await changelog.restore(partitions)
        async with self.lock:
            for p in partitions:
                det = PartitionDetector(
                    s.topic_requests,
                    p,
                    self.policy,
                    REGISTRY.build(self.spec),
                    self.spec.label(),
                    Limits(hot_actors=s.hot_actors_per_partition),
                )
                det.restore_all(restored[p].items())  # undecoded, as the worker's detector does
                self.partitions[p] = det
            gc.collect()  # and out of the cyclic collector, as there
            gc.freeze()

    def drop(self, partitions: set[int]) -> None:
        for p in partitions:
            self.partitions.pop(p, None)

    def handle(self, batch: Mapping[int, list[Any]]) -> Publish:
        if self.progress["first"] is None:
            self.progress["first"] = time.time()
        plan = Publish()
        for p, records in batch.items():
            out = self.partitions[p].process(records)
            add_outcome(plan, self.settings, p, out)
            self.progress["events"] += out.stats.get("events", 0)
        self.progress["last"] = time.time()
        return plan


def main() -> None:
    settings = Settings()
    app = create_app(settings)
    writer = WriterService(settings)
    app.service(writer)  # type: ignore[arg-type]
    detector = FaustDetector(app, settings, writer)

    @app.page("/progress")
    async def progress(web: Any, request: Any) -> Any:
        return web.json(detector.progress)

    sys.argv = [sys.argv[0], *sys.argv[1:]]
    app.main()


if __name__ == "__main__":
    main()
