"""A batched Kafka agent: the loop shared by the detector and the correlator.

Subclasses say which topics they read, what to do when partitions come and go, and
how to turn one fetched batch into messages to publish. This class owns the
consumer group, the two publish phases (results first, state second) and the
offset commit, so every agent gets the same at-least-once guarantee:

1. ``handle`` turns the batch into a :class:`Publish` plan (pure work, no I/O);
2. the plan's ``results`` are published and acknowledged;
3. its ``state`` records (changelog writes, tombstones) are published and acknowledged;
4. the batch's input offsets are committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError
from aiokafka.structs import OffsetAndMetadata
from mode import Service

from stream.kafka.config import aiokafka_kwargs
from stream.kafka.writer import partition_for
from stream.settings import Settings

log = structlog.get_logger(__name__)

Message = tuple[str, bytes | None, bytes | None, int | None]  # topic, key, value, partition


@dataclass
class Publish:
    """What one batch asks to publish, in two acknowledged phases."""

    results: list[Message] = field(default_factory=list)
    state: list[Message] = field(default_factory=list)


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, agent: BatchAgent) -> None:
        self.agent = agent

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        async with self.agent.lock:  # the batch in flight is published and committed first
            await self.agent.release({tp.partition for tp in revoked})
            for tp in revoked:
                self.agent._positions.pop(tp, None)
        log.info(
            "partitions_revoked",
            agent=self.agent.name,
            partitions=sorted({tp.partition for tp in revoked}),
        )

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self.agent.acquire({tp.partition for tp in assigned})
        log.info(
            "partitions_assigned",
            agent=self.agent.name,
            partitions=sorted({tp.partition for tp in assigned}),
        )
        self.agent.ready.set()


class BatchAgent(Service):
    """Consumes ``topics`` in micro-batches in consumer group ``group_id``."""

    name = "agent"
    housekeeping_every_s = 30.0
    #: partitions of this topic are kept within ``align_slack_s`` of each other in
    #: event time while they have a backlog (see :meth:`_align`)
    align_topic: str | None = None
    align_slack_s = 300.0

    def __init__(self, settings: Settings, topics: list[str], group_id: str, **kwargs: Any) -> None:
        self.settings = settings
        self.topics = topics
        self.group_id = group_id
        self.stats: Counter[str] = Counter()
        self.ready = asyncio.Event()
        self.lock = asyncio.Lock()
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None
        self._last_housekeeping = time.monotonic()
        self._positions: dict[TopicPartition, int] = {}
        self._partition_counts: dict[str, int] = {}
        super().__init__(**kwargs)

    # -- to be provided by subclasses ------------------------------------------------
    async def acquire(self, partitions: set[int]) -> None:
        """Partitions were assigned: load their state (runs before their first batch)."""

    async def release(self, partitions: set[int]) -> None:
        """Partitions were revoked: drop their state (the lock is held)."""

    def owns(self, partition: int) -> bool:
        return True

    def handle(self, batch: dict[TopicPartition, list[Any]]) -> Publish:
        raise NotImplementedError

    def housekeeping(self) -> Publish | None:
        """Called every ``housekeeping_every_s`` seconds with the lock held."""
        return None

    def has_pending(self) -> bool:
        """True when :meth:`between_batches` has work (e.g. a control message arrived)."""
        return False

    async def between_batches(self) -> None:
        """Runs with the lock held, between two batches: apply what has to be atomic."""

    def watermark(self, partition: int) -> float | None:
        """Newest event time processed in ``partition`` (for event-time alignment)."""
        return None

    def after_commit(self, plan: Publish) -> None:
        """Called once a batch is fully published and committed."""

    # -- lifecycle ---------------------------------------------------------------------
    async def on_start(self) -> None:
        s = self.settings
        self.producer = AIOKafkaProducer(
            acks="all", linger_ms=2, max_batch_size=512 * 1024, **aiokafka_kwargs(s)
        )
        await self.producer.start()
        await self.on_producer_ready()
        self.consumer = AIOKafkaConsumer(
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=s.batch_max_records,
            fetch_max_wait_ms=s.batch_wait_ms,
            max_partition_fetch_bytes=4 * 1024 * 1024,
            session_timeout_ms=10000,
            heartbeat_interval_ms=1000,
            rebalance_timeout_ms=10000,
            # co-partitioned topics: partition i of every topic goes to the same worker
            partition_assignment_strategy=(RangePartitionAssignor,),
            **aiokafka_kwargs(s),
        )
        self.consumer.subscribe(self.topics, listener=_Rebalance(self))
        # the consumer starts (and joins its group) in _run, so that the agents of a
        # worker join their groups at the same time rather than one after the other

    async def on_producer_ready(self) -> None:
        """Hook for subclasses that need the producer before consuming starts."""

    async def on_stop(self) -> None:
        if self.consumer is not None:
            await self.consumer.stop()
        if self.producer is not None:
            await self.producer.stop()
        log.info("agent_stopped", agent=self.name, **dict(sorted(self.stats.items())))

    # -- the loop --------------------------------------------------------------------
    @Service.task
    async def _run(self) -> None:
        consumer = self.consumer
        assert consumer is not None
        await consumer.start()
        log.info("agent_started", agent=self.name, group=self.group_id, topics=self.topics)
        timeout_ms = max(self.settings.batch_wait_ms, 10)
        while not self.should_stop:
            try:
                batch = await consumer.getmany(
                    timeout_ms=timeout_ms, max_records=self.settings.batch_max_records
                )
            except KafkaError as exc:
                log.warning("fetch_failed", agent=self.name, error=str(exc))
                await asyncio.sleep(0.5)
                continue
            if self.has_pending():
                async with self.lock:
                    await self.between_batches()
            if batch:
                async with self.lock:
                    await self._process(consumer, batch)
                    self._align(consumer)
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

    async def _process(
        self, consumer: AIOKafkaConsumer, batch: dict[TopicPartition, list[Any]]
    ) -> None:
        mine: dict[TopicPartition, list[Any]] = {}
        for tp, records in batch.items():
            if self.owns(tp.partition):
                mine[tp] = records
                continue
            # fetched before the partition's state was loaded, or after it was revoked
            # (then it is no longer ours: the new owner starts from the committed offset)
            with contextlib.suppress(IllegalStateError):
                consumer.seek(tp, records[0].offset)
        if not mine:
            return
        plan = self.handle(mine)
        await self.publish(plan)
        commits = {tp: OffsetAndMetadata(recs[-1].offset + 1, "") for tp, recs in mine.items()}
        for tp, meta in commits.items():
            self._positions[tp] = meta.offset
        try:
            await consumer.commit(commits)
        except (CommitFailedError, KafkaError) as exc:
            # the partitions moved: their new owner resumes from the last committed
            # offset and skips what the changelog already holds
            log.warning("commit_failed", agent=self.name, error=str(exc))
        self.after_commit(plan)

    def _align(self, consumer: AIOKafkaConsumer) -> None:
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
        tps = [tp for tp in consumer.assignment() if tp.topic == self.align_topic]
        behind: dict[TopicPartition, float] = {}
        for tp in tps:
            highwater = consumer.highwater(tp)
            if highwater is None or self._positions.get(tp, -1) >= highwater:
                continue  # no backlog known
            wm = self.watermark(tp.partition)
            # a partition not processed yet holds everyone back until it has started
            behind[tp] = wm if wm is not None else float("-inf")
        hold: set[TopicPartition] = set()
        if len(behind) > 1:
            floor = min(behind.values())
            hold = {tp for tp, wm in behind.items() if wm > floor + self.align_slack_s}
        paused = consumer.paused()
        for tp in tps:
            if tp in hold and tp not in paused:
                consumer.pause(tp)
                self.stats["partition_paused"] += 1
            elif tp not in hold and tp in paused:
                consumer.resume(tp)

    async def publish(self, plan: Publish) -> None:
        """Publish ``plan.results``, await them, then ``plan.state``, await them.

        Messages are grouped per topic and partition (Kafka's default partitioner for
        those without one) and sent as whole record batches: one ``send`` per message
        costs more than the detector's work on the event.
        """
        producer = self.producer
        assert producer is not None
        for phase in (plan.results, plan.state):
            if not phase:
                continue
            groups: dict[tuple[str, int], list[tuple[bytes | None, bytes | None]]] = {}
            for topic, key, value, partition in phase:
                if partition is None:
                    partition = partition_for(key, await self._partitions(topic))
                groups.setdefault((topic, partition), []).append((key, value))
            futures = []
            for (topic, partition), messages in groups.items():
                batch = producer.create_batch()
                for key, value in messages:
                    if batch.append(key=key, value=value, timestamp=None) is None:
                        futures.append(await producer.send_batch(batch, topic, partition=partition))
                        batch = producer.create_batch()
                        if batch.append(key=key, value=value, timestamp=None) is None:
                            raise ValueError(
                                f"a {len(value or b'')}-byte message to {topic} "
                                "does not fit in a record batch"
                            )
                futures.append(await producer.send_batch(batch, topic, partition=partition))
            await asyncio.gather(*futures)

    async def _partitions(self, topic: str) -> int:
        n = self._partition_counts.get(topic)
        if n is None:
            assert self.producer is not None
            n = self._partition_counts[topic] = len(await self.producer.partitions_for(topic))
        return n
