"""The detector agent: a thin batched loop between Kafka and the pure pipeline.

It runs inside the Faust worker as a ``mode`` service. Why not ``@app.agent``:
Faust's consumer hands every message to the stream through a task of its own
(``Consumer._drain_messages`` → ``wait_first`` per message), which caps a decode-only
agent at ~13k events/s on a 2-core machine; this loop takes whole fetches
(``getmany``) and keeps the per-event cost in the pipeline.

Per batch, at least once and in this order:

1. the pipeline turns each partition's records into decisions, dead letters,
   re-keyed events and changed actor states;
2. decisions, dead letters and re-keyed events are published and acknowledged;
3. changed states are written to the changelog and acknowledged;
4. input offsets are committed.

A crash between 2 and 3 re-creates the same decisions (same ``decision_id``); a crash
between 3 and 4 re-delivers events the state already holds, which the pipeline
recognises by offset and skips, so counters never count an event twice.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.structs import OffsetAndMetadata
from mode import Service

from models import REGISTRY, ModelSpec
from stream.kafka_config import aiokafka_kwargs
from stream.pipeline import Limits, Outcome, PartitionDetector
from stream.policy import Policy
from stream.pseudonym import Pseudonymizer
from stream.records import Decision
from stream.settings import Settings
from stream.statestore import StateChangelog

log = structlog.get_logger(__name__)

EXPIRE_EVERY_S = 30.0


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, detector: Detector) -> None:
        self.detector = detector

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self.detector.release([tp.partition for tp in revoked])

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self.detector.acquire([tp.partition for tp in assigned])


class Detector(Service):
    """Consumes ``requests``, publishes ``decisions`` and ``deadletter``."""

    def __init__(
        self,
        settings: Settings,
        policy: Policy,
        pseudonymizer: Pseudonymizer,
        on_decisions: Callable[[list[Decision]], None] | None = None,
        **kwargs: Any,
    ) -> None:
        self.settings = settings
        self.policy = policy
        self.pseudo = pseudonymizer
        self.on_decisions = on_decisions
        self.model_spec: ModelSpec = REGISTRY.get(settings.model).spec(settings.model_params)
        self.limits = Limits(
            max_event_bytes=settings.max_event_bytes,
            max_future_skew_s=settings.max_future_skew_s,
            actor_idle_ttl_s=settings.actor_idle_ttl_s,
        )
        self.partitions: dict[int, PartitionDetector] = {}
        self.stats: Counter[str] = Counter()
        self.ready = asyncio.Event()
        self._lock = asyncio.Lock()
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._changelog: StateChangelog | None = None
        self._last_expiry = time.monotonic()
        super().__init__(**kwargs)

    # -- lifecycle ---------------------------------------------------------------------
    async def on_start(self) -> None:
        s = self.settings
        self._producer = AIOKafkaProducer(
            acks="all", linger_ms=2, max_batch_size=512 * 1024, **aiokafka_kwargs(s)
        )
        await self._producer.start()
        self._changelog = StateChangelog(s, self._producer)
        self._consumer = AIOKafkaConsumer(
            group_id=s.detector_group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=s.batch_max_records,
            fetch_max_wait_ms=s.batch_wait_ms,
            max_partition_fetch_bytes=4 * 1024 * 1024,
            session_timeout_ms=10000,
            heartbeat_interval_ms=1000,
            rebalance_timeout_ms=10000,
            **aiokafka_kwargs(s),
        )
        self._consumer.subscribe([s.topic_requests], listener=_Rebalance(self))
        await self._consumer.start()
        log.info(
            "detector_started",
            group=s.detector_group,
            topic=s.topic_requests,
            model=self.model_spec.label(),
            policy=self.policy.source,
            shadow=self.policy.shadow,
        )

    async def on_stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()  # revokes partitions: in-flight batch completes first
        if self._producer is not None:
            await self._producer.stop()
        log.info("detector_stopped", **{k: v for k, v in sorted(self.stats.items())})

    # -- partitions ------------------------------------------------------------------
    async def acquire(self, partitions: list[int]) -> None:
        new = [p for p in partitions if p not in self.partitions]
        assert self._changelog is not None
        restored = await self._changelog.restore(new)
        async with self._lock:
            for p in new:
                det = PartitionDetector(
                    self.settings.topic_requests,
                    p,
                    self.policy,
                    REGISTRY.build(self.model_spec),
                    self.model_spec.label(),
                    self.limits,
                )
                for actor, state in restored[p].items():
                    det.restore(actor, state)
                self.partitions[p] = det
        log.info("partitions_assigned", partitions=sorted(self.partitions))
        self.ready.set()

    async def release(self, partitions: list[int]) -> None:
        async with self._lock:  # waits for the batch in flight to be fully published
            for p in partitions:
                self.partitions.pop(p, None)
        log.info("partitions_revoked", partitions=sorted(partitions))

    # -- the loop --------------------------------------------------------------------
    @Service.task
    async def _run(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        timeout_ms = max(self.settings.batch_wait_ms, 10)
        while not self.should_stop:
            try:
                batch = await consumer.getmany(
                    timeout_ms=timeout_ms, max_records=self.settings.batch_max_records
                )
            except KafkaError as exc:
                log.warning("fetch_failed", error=str(exc))
                await asyncio.sleep(0.5)
                continue
            if batch:
                async with self._lock:
                    await self._process(consumer, batch)
            if time.monotonic() - self._last_expiry > EXPIRE_EVERY_S:
                async with self._lock:
                    await self._expire()

    async def _process(
        self, consumer: AIOKafkaConsumer, batch: dict[TopicPartition, list[Any]]
    ) -> None:
        outcomes: list[tuple[int, Outcome]] = []
        commits: dict[TopicPartition, OffsetAndMetadata] = {}
        for tp, records in batch.items():
            det = self.partitions.get(tp.partition)
            if det is None:
                # fetched before the partition's state was restored, or after it was
                # revoked: leave the records for whoever owns the partition now
                consumer.seek(tp, records[0].offset)
                continue
            out = det.process(records)
            outcomes.append((tp.partition, out))
            commits[tp] = OffsetAndMetadata(records[-1].offset + 1, "")
        if not outcomes:
            return
        await self._publish(outcomes)
        try:
            await consumer.commit(commits)
        except (CommitFailedError, KafkaError) as exc:
            # a rebalance took the partitions: the new owner resumes from the last
            # committed offset and skips what the changelog already holds
            log.warning("commit_failed", error=str(exc))
        for _, out in outcomes:
            self.stats.update(out.stats)
            for d in out.decisions:
                log.info(
                    "decision",
                    actor=d.actor,
                    action=d.action,
                    reasons=d.reasons,
                    score=d.score,
                    shadow=d.shadow,
                    decision_id=d.decision_id,
                )
        if self.on_decisions is not None:
            decisions = [d for _, out in outcomes for d in out.decisions]
            if decisions:
                self.on_decisions(decisions)

    async def _publish(self, outcomes: list[tuple[int, Outcome]]) -> None:
        producer = self._producer
        assert producer is not None
        s = self.settings
        first: list[asyncio.Future[Any]] = []
        for _, out in outcomes:
            for d in out.decisions:
                first.append(
                    await producer.send(s.topic_decisions, d.encode(), key=d.actor.encode())
                )
            for dl in out.deadletters:
                first.append(await producer.send(s.topic_deadletter, dl.encode(), key=dl.key))
            for key, value in out.forwards:
                first.append(await producer.send(s.topic_requests, value, key=key))
        if first:
            await asyncio.gather(*first)
        second: list[asyncio.Future[Any]] = []
        for partition, out in outcomes:
            for actor, state in out.changed.items():
                second.append(
                    await producer.send(
                        s.state_topic, state.encode(), key=actor.encode(), partition=partition
                    )
                )
            for actor in out.evicted:
                second.append(
                    await producer.send(
                        s.state_topic, None, key=actor.encode(), partition=partition
                    )
                )
        if second:
            await asyncio.gather(*second)

    async def _expire(self) -> None:
        self._last_expiry = time.monotonic()
        outcomes = []
        for p, det in self.partitions.items():
            gone = det.expire_idle()
            if gone:
                outcomes.append((p, Outcome(evicted=gone)))
                self.stats["actors_expired"] += len(gone)
        if outcomes:
            await self._publish(outcomes)

    def active_actors(self) -> int:
        return sum(len(d.actors) for d in self.partitions.values())
