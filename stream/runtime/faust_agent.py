"""A genuine Faust agent with state in a changelog and the publish-then-ack protocol.

The correlator and the incidents agent are low-volume (one record per account, IP and
minute; one per flagged access), so they run as ``@app.agent`` over their topic, in the
worker's Faust consumer group, taking micro-batches with ``stream.take_events``. Per
batch, like the batched consumer (:mod:`stream.kafka.batch_consumer`):

1. ``handle`` turns the records into a :class:`~stream.kafka.writer.Publish` plan;
2. results, then state, are written through the worker's one writer and acknowledged;
3. only then does the body return to ``take_events``, which acks the events — and Faust
   commits acked offsets. A crash before that re-delivers the batch (at least once).

State lives in our own compacted changelog, restored to its true end (an end marker, not
the end offsets Faust's table recovery trusts — docs/architecture.md) when Faust assigns
partitions; a batch waits for the restore of the partitions it holds. The error policy
is the Kafka layer's: a record that does not decode is skipped with a metric and a
warning; a publish that keeps failing crashes the worker, which exits non-zero.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import faust
import structlog

from stream.errors import FatalKafkaError
from stream.kafka.packs import unpack
from stream.kafka.read_to_end import is_marker
from stream.kafka.writer import Publish, WriterService, publish_plan
from stream.runtime.metrics import Metrics
from stream.settings import Settings

log = structlog.get_logger(__name__)
T = TypeVar("T")

RESTORE_WAIT_S = 60.0


def read_items(
    records: Iterable[Any], decode: Callable[[Any], T], what: str, stats: Counter[str]
) -> list[T]:
    """The items of ``records`` (packs, or records of one item: :mod:`stream.kafka.packs`),
    each decoded by ``decode`` from its JSON document. A record that is not JSON, or an
    item that does not decode, is skipped and counted (``bad_<what>``, per item); each
    record with any is logged once, with its first error."""
    kind = f"bad_{what.replace(' ', '_')}"
    items: list[T] = []
    for record in records:
        bad, first = 0, ""
        try:
            docs = unpack(record.value, what)
        except ValueError as exc:
            docs, bad, first = [], 1, str(exc)
        for doc in docs:
            try:
                items.append(decode(doc))
            except ValueError as exc:
                bad += 1
                first = first or str(exc)
        if bad:
            stats[kind] += bad
            where = {"topic": record.topic, "offset": record.offset}
            log.warning("bad_record", **where, bad=bad, error=first)
    return items


class BatchedFaustAgent:
    """Subclasses set :attr:`name` and implement ``restore``, ``drop`` and ``handle``."""

    name = "agent"
    # records a batch takes: packs of up to PACK_MAX_ITEMS items each (~350 in the bench
    # mix), worked on the event loop, so few (the detector's records come in one per item)
    max_batch = 8
    within_s = 0.05
    housekeeping_every_s = 30.0

    def __init__(
        self, app: faust.App, settings: Settings, topic: str, writer: WriterService
    ) -> None:
        self.app = app
        self.settings = settings
        self.topic = topic
        self.writer = writer
        self.stats: Counter[str] = Counter()
        self.owned: set[int] = set()
        self._restored: dict[int, asyncio.Event] = {}
        self.ready = asyncio.Event()
        self.lock = asyncio.Lock()  # a batch and housekeeping never interleave
        self.metrics: Metrics | None = None
        source = app.topic(
            topic, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
        )
        app.agent(source, name=f"{settings.app_id}.{self.name}")(self._consume)
        # mode types receivers too narrowly for a bound coroutine method
        app.on_partitions_assigned.connect(self._assigned)  # type: ignore[arg-type]
        app.on_partitions_revoked.connect(self._revoked)  # type: ignore[arg-type]
        app.timer(self.housekeeping_every_s, name=f"{settings.app_id}.{self.name}.housekeeping")(
            self._housekeeping
        )

    def attach_metrics(self, metrics: Metrics) -> None:
        """Report batch durations and this agent's error counters on ``metrics``."""
        self.metrics = metrics
        metrics.stats.agents[self.name] = self.stats

    # -- to be provided by subclasses --------------------------------------------------
    async def restore(self, partitions: set[int]) -> None:
        """Load the state of newly assigned ``partitions`` from the changelog."""

    def drop(self, partitions: set[int]) -> None:
        """Forget the state of revoked ``partitions``."""

    def handle(self, batch: Mapping[int, list[Any]]) -> Publish:
        """Records of one micro-batch, per partition → what to publish."""
        raise NotImplementedError

    def housekeeping(self) -> Publish | None:
        """Every ``housekeeping_every_s`` seconds: expire what event time has passed."""
        return None

    # -- partitions --------------------------------------------------------------------
    async def _assigned(self, sender: Any, *args: Any, signal: Any = None, **kw: Any) -> None:
        assigned: set[Any] = args[0]
        mine = {tp.partition for tp in assigned if tp.topic == self.topic}
        gone, new = self.owned - mine, mine - self.owned
        if gone:
            self._forget(gone)
        for p in new:
            self._restored[p] = asyncio.Event()
        self.owned = mine
        if new:
            await self.writer.maybe_start()
            await self.restore(new)
            for p in new:
                self._restored[p].set()
            log.info("partitions_assigned", agent=self.name, partitions=sorted(new))
        self.ready.set()

    async def _revoked(self, sender: Any, *args: Any, signal: Any = None, **kw: Any) -> None:
        revoked: set[Any] = args[0]
        gone = {tp.partition for tp in revoked if tp.topic == self.topic} & self.owned
        if gone:
            self._forget(gone)
            self.owned -= gone
            log.info("partitions_revoked", agent=self.name, partitions=sorted(gone))

    def _forget(self, partitions: set[int]) -> None:
        self.drop(partitions)
        for p in partitions:
            self._restored.pop(p, None)

    # -- the agent -----------------------------------------------------------------------
    async def _consume(self, stream: Any) -> None:
        try:
            await self._batches(stream)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self._fatal(exc)
            raise

    async def _batches(self, stream: Any) -> None:
        async for events in stream.take_events(self.max_batch, within=self.within_s):
            batch: dict[int, list[Any]] = {}
            for event in events:
                if not is_marker(event.message):
                    batch.setdefault(event.message.partition, []).append(event.message)
            for p in batch:
                restored = self._restored.get(p)
                if restored is not None and not restored.is_set():
                    await asyncio.wait_for(restored.wait(), RESTORE_WAIT_S)
            async with self.lock:
                mine = {p: recs for p, recs in batch.items() if p in self.owned}
                self.stats["records"] += sum(len(r) for r in mine.values())
                if mine:
                    started = time.perf_counter()
                    plan = self.handle(mine)
                    await publish_plan(self.writer.writer, plan, self.stats)
                    if self.metrics is not None:
                        self.metrics.batch_duration.labels(self.name).observe(
                            time.perf_counter() - started
                        )
            # returning to take_events acks the events: Faust commits them from now on

    async def _housekeeping(self) -> None:
        async with self.lock:
            plan = self.housekeeping()
            if plan is not None:
                await publish_plan(self.writer.writer, plan, self.stats)

    async def _fatal(self, exc: BaseException) -> None:
        """Anything escaping a batch is fatal: the worker exits non-zero and its
        supervisor restarts it; the un-acked batch is delivered again."""
        log.critical(
            "agent_failed",
            agent=self.name,
            error=f"{type(exc).__name__}: {exc}",
            fatal=isinstance(exc, FatalKafkaError),
        )
        await self.app.crash(exc)
