"""The batched consumer: a consumer group read in whole fetches, published then committed.

Used by the detector (the one high-volume agent: a Faust agent hands each message to
its stream separately, which the bench measures as ``faust_agent_throughput_eps``).
Subclasses say what to do when partitions come and go, and how to turn one fetched
batch into messages to publish. This class owns the consumer group, the two publish
phases and the commit, so the guarantee is the same everywhere (at least once, never
counted twice — state remembers the offsets it counted):

1. ``handle`` turns the batch into a :class:`Publish` plan (pure work, no I/O);
2. the plan's ``results`` are written and acknowledged;
3. its ``state`` records (changelog writes, tombstones) are written and acknowledged;
4. the batch's input offsets are committed.

The error policy (also in docs/architecture.md):

* a fetch error is retried after a pause, forever (the broker may come back);
* a publish error is retried :data:`ATTEMPTS` times with exponential backoff; then
  :class:`FatalKafkaError` crashes the worker, which exits non-zero (its supervisor
  restarts it, and the batch is re-delivered) — never a silently stalled partition;
* a commit refused because the partitions moved to another worker is expected: the new
  owner resumes from the last committed offset and skips what state already counted;
  any other commit error is retried like a publish error;
* records fetched for a partition this worker does not own (any more) are handed back
  by seeking to them, never processed; records a subclass leaves for a later batch
  (:meth:`BatchConsumer.left_for_later`) are committed up to and read again;
* end markers (:mod:`stream.kafka.read_to_end`) are committed past, never handled.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import (
    CommitFailedError,
    IllegalStateError,
    KafkaError,
    RebalanceInProgressError,
)
from aiokafka.structs import OffsetAndMetadata
from mode import Service

from stream.errors import FatalKafkaError
from stream.kafka import writer as kafka_writer
from stream.kafka.config import aiokafka_kwargs, group_timing
from stream.kafka.read_to_end import is_marker
from stream.kafka.writer import BatchWriter, Publish, WriterService, publish_plan
from stream.settings import Settings

log = structlog.get_logger(__name__)


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, agent: BatchConsumer) -> None:
        self.agent = agent

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        async with self.agent.lock:  # the batch in flight is published and committed first
            await self.agent.release({tp.partition for tp in revoked})
            for tp in revoked:
                self.agent.positions.pop(tp, None)
        log.info(
            "partitions_revoked",
            agent=self.agent.name,
            partitions=sorted({tp.partition for tp in revoked}),
        )

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self.agent.acquire({tp.partition for tp in assigned})
        await self.agent.start_positions(assigned)
        log.info(
            "partitions_assigned",
            agent=self.agent.name,
            partitions=sorted({tp.partition for tp in assigned}),
        )
        self.agent.ready.set()


class BatchConsumer(Service):
    """Consumes ``topics`` in micro-batches in consumer group ``group_id``."""

    name = "agent"
    housekeeping_every_s = 30.0
    #: partitions of this topic are kept within ``align_slack_s`` of each other in
    #: event time while they have a backlog (see :meth:`_align`)
    align_topic: str | None = None
    align_slack_s = 300.0
    #: a partition more than this ahead of the slowest is of another era and is not paused
    #: (None: every partition is aligned; the detector sets stream.core.older_era's gap)
    align_era_gap_s: float | None = None

    def __init__(
        self,
        settings: Settings,
        topics: list[str],
        group_id: str,
        writer: WriterService,
        **kwargs: Any,
    ) -> None:
        self.settings = settings
        self.topics = topics
        self.group_id = group_id
        self.writer_service = writer
        self.stats: Counter[str] = Counter()
        self.ready = asyncio.Event()
        self.lock = asyncio.Lock()
        self.consumer: Any = None  # AIOKafkaConsumer, or a stand-in in tests
        self.positions: dict[TopicPartition, int] = {}
        self._last_housekeeping = time.monotonic()
        super().__init__(**kwargs)

    # -- to be provided by subclasses ------------------------------------------------
    async def acquire(self, partitions: set[int]) -> None:
        """Partitions were assigned: load their state (runs before their first batch)."""

    async def release(self, partitions: set[int]) -> None:
        """Partitions were revoked: drop their state (the lock is held)."""

    def owns(self, partition: int) -> bool:
        return True

    def handle(self, batch: dict[TopicPartition, list[Any]]) -> Publish:
        """The pure work of one batch. Runs in a thread (see :meth:`process`) while the
        agent's lock is held: it may change only the state that the lock guards, and
        counts into its outcomes rather than into :attr:`stats`."""
        raise NotImplementedError

    def left_for_later(self) -> dict[TopicPartition, int]:
        """After ``handle``: partitions whose records from this offset on were left for a
        later batch (event-time alignment); they are committed up to it and read again."""
        return {}

    def housekeeping(self) -> Publish | None:
        """Called every ``housekeeping_every_s`` seconds with the lock held."""
        return None

    def has_pending(self) -> bool:
        """True when :meth:`between_batches` has work (e.g. a control message arrived)."""
        return False

    async def between_batches(self) -> None:
        """Runs with the lock held, between two batches: apply what has to be atomic."""

    def watermark(self, partition: int) -> float | None:
        """Where ``partition`` is in event time in its log (for event-time alignment)."""
        return None

    def after_commit(self, plan: Publish) -> None:
        """Called once a batch is fully published and committed."""

    def observe_batch(self, duration_s: float) -> None:
        """Called after :meth:`after_commit` with the batch's handle-publish-commit time."""

    # -- lifecycle ---------------------------------------------------------------------
    @property
    def writer(self) -> BatchWriter:
        return self.writer_service.writer

    async def on_start(self) -> None:
        s = self.settings
        session_s, heartbeat_s = group_timing(s)
        await self.writer_service.maybe_start()
        await self.on_producer_ready()
        self.consumer = AIOKafkaConsumer(
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=s.batch_max_records,
            fetch_max_wait_ms=s.batch_wait_ms,
            max_partition_fetch_bytes=4 * 1024 * 1024,
            # a killed worker's partitions move once its session has passed (6 s by
            # default, the smallest Apache Kafka allows unless its brokers say otherwise);
            # heartbeats run on the event loop while the batch runs in a thread
            session_timeout_ms=int(session_s * 1000),
            heartbeat_interval_ms=int(heartbeat_s * 1000),
            rebalance_timeout_ms=6000,
            # co-partitioned topics: partition i of every topic goes to the same worker
            partition_assignment_strategy=(RangePartitionAssignor,),
            **aiokafka_kwargs(s),
        )
        self.consumer.subscribe(self.topics, listener=_Rebalance(self))
        # the consumer starts (and joins its group) in _run, so that the agents of a
        # worker join their groups at the same time rather than one after the other

    @property
    def producer(self) -> Any:
        return self.writer.producer

    async def start_positions(self, assigned: list[TopicPartition]) -> None:
        """Where each assigned partition starts (its committed offset), so that a partition
        that brings no new record is not mistaken for one with a backlog."""
        for tp in assigned:
            try:
                committed = await self.consumer.committed(tp)
            except KafkaError as exc:
                log.warning("committed_offset_unknown", partition=tp.partition, error=str(exc))
                continue
            self.positions[tp] = committed if committed is not None else 0

    async def on_producer_ready(self) -> None:
        """Hook for subclasses that need the producer before consuming starts."""

    async def before_consuming(self) -> None:
        """Hook: runs before the consumer joins its group (e.g. wait for the control log)."""

    async def on_stop(self) -> None:
        if self.consumer is not None:
            with contextlib.suppress(KafkaError):
                await self.consumer.stop()
        log.info("agent_stopped", agent=self.name, **dict(sorted(self.stats.items())))

    # -- the loop --------------------------------------------------------------------
    @Service.task
    async def _run(self) -> None:
        consumer = self.consumer
        assert consumer is not None
        await self.before_consuming()
        await consumer.start()
        log.info("agent_started", agent=self.name, group=self.group_id, topics=self.topics)
        timeout_ms = max(self.settings.batch_wait_ms, 10)
        while not self.should_stop:
            try:
                batch = await consumer.getmany(
                    timeout_ms=timeout_ms, max_records=self.settings.batch_max_records
                )
            except KafkaError as exc:
                self.stats["fetch_errors"] += 1
                log.warning("fetch_failed", agent=self.name, error=str(exc))
                await asyncio.sleep(0.5)
                continue
            if self.has_pending():
                async with self.lock:
                    await self.between_batches()
            if batch:
                async with self.lock:
                    await self.process(batch)
                    self._align()
            elif consumer.paused():
                # the partitions we kept reading had nothing more: never wait on a pause
                consumer.resume(*consumer.paused())
                self.stats["alignment_released"] += 1
            if time.monotonic() - self._last_housekeeping > self.housekeeping_every_s:
                async with self.lock:
                    self._last_housekeeping = time.monotonic()
                    plan = self.housekeeping()
                    if plan is not None:
                        await self.publish(plan)

    async def process(self, batch: dict[TopicPartition, list[Any]]) -> None:
        """One fetched batch: handle what this worker owns, publish, commit."""
        started = time.perf_counter()
        consumer = self.consumer
        mine: dict[TopicPartition, list[Any]] = {}
        commits: dict[TopicPartition, OffsetAndMetadata] = {}
        for tp, records in batch.items():
            if not self.owns(tp.partition):
                # fetched before the partition's state was loaded, or after it was revoked
                # (then it is no longer ours: the new owner starts from the committed offset)
                with contextlib.suppress(IllegalStateError):
                    consumer.seek(tp, records[0].offset)
                self.stats["handed_back"] += len(records)
                continue
            commits[tp] = OffsetAndMetadata(records[-1].offset + 1, "")
            real = [r for r in records if not is_marker(r)]
            if real:
                mine[tp] = real
        if not commits:
            return
        # the batch is worked off the event loop, so that the HTTP API (a gateway's
        # /check above all) and the other agents keep answering while it runs; the lock
        # keeps rebalances, model swaps and housekeeping out until it is published
        plan = await asyncio.to_thread(self.handle, mine) if mine else Publish()
        later = self.left_for_later() if mine else {}
        for tp, offset in later.items():
            commits[tp] = OffsetAndMetadata(offset, "")
        await self.publish(plan)
        for tp, meta in commits.items():
            self.positions[tp] = meta.offset
        await self._commit(commits)
        for tp, offset in later.items():
            with contextlib.suppress(IllegalStateError):
                consumer.seek(tp, offset)
            self.stats["held_for_alignment"] += 1
        self.after_commit(plan)
        self.observe_batch(time.perf_counter() - started)

    async def _commit(self, commits: dict[TopicPartition, OffsetAndMetadata]) -> None:
        consumer = self.consumer
        attempts, delay = kafka_writer.ATTEMPTS, kafka_writer.FIRST_BACKOFF_S
        for attempt in range(1, attempts + 1):
            try:
                await consumer.commit(commits)
                return
            except (CommitFailedError, IllegalStateError, RebalanceInProgressError) as exc:
                # the partitions moved: their new owner resumes from the last committed
                # offset and skips what the changelog already holds
                self.stats["commits_skipped_rebalance"] += 1
                log.info("commit_skipped_partitions_moved", agent=self.name, error=str(exc))
                return
            except KafkaError as exc:
                self.stats["commit_errors"] += 1
                if attempt == attempts:
                    raise FatalKafkaError(f"commit failed {attempts} times: {exc}") from exc
                log.warning("commit_retry", agent=self.name, attempt=attempt, error=str(exc))
                await asyncio.sleep(delay)
                delay *= 2

    def _align(self) -> None:
        """Event-time alignment of partitions that have a backlog.

        When a worker catches up on a backlog (after downtime, a replay, a stress run),
        one partition can race hours ahead of another in event time. Per-actor windows
        do not mind, but the correlator's per-IP windows would then see one account's
        activity hours after another's and miss the group. So a partition more than
        ``align_slack_s`` ahead of the slowest partition that still has data waiting is
        paused until the others catch up (Kafka Streams and Flink align the same way).
        Partitions without a backlog never hold the others back.
        """
        if self.align_topic is None:
            return
        consumer = self.consumer
        tps = [tp for tp in consumer.assignment() if tp.topic == self.align_topic]
        behind = self.backlog_heads()
        hold: set[TopicPartition] = set()
        if len(behind) > 1:
            heads = list(behind.values())
            # a partition not started yet (-inf) holds everyone back; otherwise one of
            # another era (a day or more ahead) is neither held nor holds back
            if float("-inf") in heads:
                floor, gap = float("-inf"), None
            else:
                floor, gap = self.align_floor(heads), self.align_era_gap_s
            hold = {
                tp
                for tp, wm in behind.items()
                if wm > floor + self.align_slack_s and (gap is None or wm <= floor + gap)
            }
        paused = consumer.paused()
        for tp in tps:
            if tp in hold and tp not in paused:
                consumer.pause(tp)
                self.stats["partition_paused"] += 1
            elif tp not in hold and tp in paused:
                consumer.resume(tp)

    def align_floor(self, heads: list[float]) -> float:
        """The pace of alignment: the slowest of the partitions' places in event time."""
        return min(heads)

    def backlog_heads(self) -> dict[TopicPartition, float]:
        """Event time of the partitions of ``align_topic`` that still have a backlog.

        A partition not processed yet counts as -inf: it holds everyone back until it
        has started.
        """
        consumer = self.consumer
        heads: dict[TopicPartition, float] = {}
        for tp in consumer.assignment():
            if tp.topic != self.align_topic:
                continue
            highwater = consumer.highwater(tp)
            if highwater is None or self.positions.get(tp, -1) >= highwater:
                continue  # no backlog known
            wm = self.watermark(tp.partition)
            heads[tp] = wm if wm is not None else float("-inf")
        return heads

    async def publish(self, plan: Publish) -> None:
        """Write ``plan.results`` and wait for them, then ``plan.state`` (with retries)."""
        await publish_plan(self.writer, plan, self.stats)
