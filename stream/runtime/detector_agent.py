"""The detector agent: requests (and group signals) in, decisions out.

A thin batched loop (:mod:`stream.kafka.batch_consumer`) around the pure pipeline. Why not
``@app.agent`` like the correlator and the incidents agent: Faust's consumer hands every
message to the stream separately (``Consumer._drain_messages`` → one ``wait_first`` per
message), and ``make bench`` measures the same pipeline as a genuine Faust agent
(``faust_agent_throughput_eps``, :mod:`stream.harness.bench.faust_detector`) below the
batched consumer (about 90 % of it now that the pipeline itself dominates; well under half
with the first round's lighter pipeline). The batched consumer also gives what a Faust
stream does not: whole fetches per partition, event-time alignment of partitions with a
backlog (pause/resume), and the batch worked in a thread while the API answers
(docs/architecture.md).

It reads ``requests``, the correlator's ``group-signals``, operators'
``manual-decisions`` and the ``outcomes`` labels (all keyed by actor, co-partitioned; a
record of the last two that does not decode is dead-lettered as ``invalid_manual_decision``
or ``invalid_outcome``), and per batch publishes
decisions, dead letters, re-keyed events, model scores and account-per-IP activity for
the correlator, then each changed actor's state to the changelog. A crash between
publishing results and state re-creates the same decisions (same ``decision_id``); a
crash before the commit re-delivers events the state already holds, which the pipeline
skips by offset.

On an assignment it restores the partitions' actor state from the changelog without
decoding it: each record's bytes pass a cheap check (:func:`checked_state`) and go to the
cold tier as they are, decoded on the actor's first use (:mod:`stream.core.actor_table`);
records refused then or later count as ``state_unreadable`` (the actor starts fresh).
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections import Counter
from typing import Any

import structlog
from aiokafka import TopicPartition

from stream.core.actor_codec import newest_ts
from stream.core.batch import BatchResult, Limits
from stream.core.ledger import LedgerCodec
from stream.core.older_era import ERA_GAP_S, era_floor
from stream.core.partition_detector import PartitionDetector
from stream.core.policy import Policy
from stream.core.records import DeadLetter, Source
from stream.kafka.batch_consumer import BatchConsumer
from stream.kafka.changelog import StateChangelog
from stream.kafka.writer import Publish, WriterService
from stream.runtime.batch_outputs import add_outcome
from stream.runtime.lag import detector_lags
from stream.runtime.metrics import Metrics
from stream.runtime.model_lifecycle import ModelManager
from stream.runtime.side_topics import side_topics
from stream.settings import Settings

log = structlog.get_logger(__name__)

HELD_BATCHES_MAX = 50  # batches that may pass without any request processed (alignment)
# gc.freeze() after a restore and then every this many batches: actor states are long-lived
# and free of cycles (the pure pipeline leaves no cyclic garbage), and the cyclic collector
# walking them again and again cost ~11 % of the pure pipeline's CPU: 51.5 → 45.9 µs per
# event with the freeze, medians of 11 interleaved runs of `pipeline 100000 [--gc-freeze
# 1000]` (docs/performance.md). Frozen objects are still freed when no longer referenced;
# only cyclic garbage frozen with them would stay, hence a full collection first: with the
# worker's collector thresholds (gc_young_threshold) full collections are otherwise rare,
# and a cycle that died in the oldest generation would be frozen for good.
GC_FREEZE_EVERY_BATCHES = 1000


def checked_state(blob: bytes) -> bytes:
    """An actor-state changelog record as the detector restores it: its bytes, after the
    cheap check of :func:`~stream.core.actor_codec.newest_ts` (raises ValueError); the
    actor is decoded on its first use (:mod:`stream.core.actor_table`)."""
    newest_ts(blob)
    return blob


class Detector(BatchConsumer):
    name = "detector"

    def __init__(
        self,
        settings: Settings,
        policy: Policy,
        writer: WriterService,
        metrics: Metrics | None = None,
        ledger: LedgerCodec | None = None,
        **kwargs: Any,
    ) -> None:
        self.policy = policy
        self.metrics = metrics or Metrics()
        self.ledger = ledger
        self.models = ModelManager(settings)
        # set by the worker: the control log has been read to its end (global view)
        self.control_caught_up = asyncio.Event()
        self.housekeeping_every_s = min(30.0, settings.snapshot_every_s)
        self.limits = Limits(
            max_event_bytes=settings.max_event_bytes,
            max_future_skew_s=settings.max_future_skew_s,
            actor_idle_ttl_s=settings.actor_idle_ttl_s,
            hot_actors=settings.hot_actors_per_partition,
            max_actors=settings.max_actors_per_partition,
            labels_per_hour=settings.labels_per_partition_per_hour,
        )
        self.partitions: dict[int, PartitionDetector] = {}
        self._later: dict[TopicPartition, int] = {}
        self._heads: dict[int, float] = {}  # next event time of partitions left behind
        self._held_batches = 0  # consecutive batches in which alignment held everything
        self._observed: list[BatchResult] = []  # outcomes published, not yet in the metrics
        self._handled: Counter[str] = Counter()  # counted by handle(), not yet in stats
        self._score_bins = [0] * 20
        self._changelog: StateChangelog[bytes] | None = None
        self._batches = 0  # since the last gc.freeze()
        self._snapshots: StateChangelog[bytes] | None = None
        self.align_topic = settings.topic_requests
        self.align_era_gap_s = ERA_GAP_S  # today's traffic beside a replayed old log
        self._inputs = side_topics(settings)  # the topics besides requests
        super().__init__(
            settings,
            [settings.topic_requests, *self._inputs],
            settings.detector_group,
            writer,
            **kwargs,
        )
        self.metrics.stats.agents[self.name] = self.stats
        self.metrics.stats.models = self.models.stats

    async def on_producer_ready(self) -> None:
        assert self.producer is not None
        s = self.settings
        self._changelog = StateChangelog(s, self.producer, s.state_topic, checked_state)
        self._snapshots = StateChangelog(s, self.producer, s.snapshot_topic, bytes)

    async def before_consuming(self) -> None:
        # the control log decides which models are live before any partition is scored
        await self.control_caught_up.wait()
        self.models.apply_pending({})
        log.info(
            "detector_config",
            policy=self.policy.source,
            policy_shadow=self.policy.shadow,
            **self.models.labels(),
        )

    # -- partitions ------------------------------------------------------------------
    async def acquire(self, partitions: set[int]) -> None:
        new = [p for p in partitions if p not in self.partitions]
        assert self._changelog is not None and self._snapshots is not None
        unreadable = self._changelog.unreadable
        restored = await self._changelog.restore(new)
        snapshots = await self._snapshots.restore(new)
        async with self.lock:
            # records refused by the restore's check: those actors start fresh
            self._handled["state_unreadable"] += self._changelog.unreadable - unreadable
            self.models.apply_pending(self.partitions)  # same models as everyone else
            for p in new:
                det = PartitionDetector(
                    self.settings.topic_requests,
                    p,
                    self.policy,
                    ModelManager.fresh(self.models.slots.live),
                    self.models.slots.live.label(),
                    self.limits,
                )
                self.models.restore(p, snapshots[p], det)
                det.ledger = self.ledger
                if self.ledger is not None:
                    det.pseudo = self.ledger.pseudonymizer
                det.watch_profiles_per_hour = self.settings.ledger_watch_profiles_per_hour
                det.restore_all(restored[p].items())  # undecoded, checked by checked_state
                self.partitions[p] = det
            del restored
            # what the restore built lives as long as the partitions: out of the collector
            self._freeze()

    def _freeze(self) -> None:
        gc.collect()  # all cyclic garbage first: what is frozen is never collected
        gc.freeze()
        self._batches = 0

    async def release(self, partitions: set[int]) -> None:
        # the lock is held: snapshot what the models learned, for the next owner
        leaving = {p: self.partitions[p] for p in partitions if p in self.partitions}
        if leaving and self.producer is not None:
            await self.publish(Publish(state=self.models.snapshots(leaving)))
        for p in partitions:
            self.partitions.pop(p, None)
            self._heads.pop(p, None)

    def owns(self, partition: int) -> bool:
        return partition in self.partitions

    def watermark(self, partition: int) -> float | None:
        """Where the partition is in event time: its next event when the last batch left
        records for later, else the last event it processed (not the newest: one event of
        another era — today's traffic beside a replayed old log — would put the partition
        years ahead of its backlog and pause it until every other partition ran dry)."""
        head = self._heads.get(partition)
        if head is not None:
            return head
        det = self.partitions.get(partition)
        return det.at_ts if det is not None and det.at_ts > 0 else None

    def use_policy(self, policy: Policy) -> None:
        """A policy deployed through the control log: in force from the next batch on."""
        self.policy = policy
        for det in self.partitions.values():
            det.set_policy(policy)

    def has_pending(self) -> bool:
        return bool(self.models.pending)

    async def between_batches(self) -> None:
        self.models.apply_pending(self.partitions)

    # -- batches ---------------------------------------------------------------------
    def handle(self, batch: dict[TopicPartition, list[Any]]) -> Publish:
        inputs = self._inputs
        outcomes: list[tuple[int, BatchResult]] = []
        self._later = {}
        until_ts = self._alignment_bound(batch)
        held, moved = 0, False
        # signals, manual decisions and labels first: a batch's requests are judged with them
        for tp, records in sorted(batch.items(), key=lambda kv: kv[0].topic not in inputs):
            det = self.partitions[tp.partition]
            if tp.topic in inputs:
                what, decode, apply = inputs[tp.topic]
                self._handled[f"{what}_records"] += len(records)  # read: applied or not
                items = []
                refused = BatchResult()
                for r in records:
                    try:
                        items.append(decode(r))
                    except Exception as exc:  # decoders are total; a slip must not stop us
                        self._refused(refused, what, tp, r, exc)
                outcomes.append((tp.partition, apply(det, items)))
                if refused.deadletters:
                    outcomes.append((tp.partition, refused))
            else:
                out = det.process(records, until_ts)
                if out.stopped_at is not None and out.stopped_at == records[0].offset:
                    held += 1
                else:
                    moved = True
                if out.stopped_at is not None:
                    self._later[tp] = out.stopped_at
                    left = [r for r in records if r.offset >= out.stopped_at]
                    self._heads[tp.partition] = det.next_ts(left) or det.at_ts
                else:
                    self._heads.pop(tp.partition, None)
                outcomes.append((tp.partition, out))
        self._held_batches = 0 if moved or not held else self._held_batches + 1
        return self._plan(outcomes)

    def _refused(
        self, out: BatchResult, what: str, tp: TopicPartition, r: Any, exc: Exception
    ) -> None:
        """A record of an input topic that does not decode: operators' and enforcement's
        records (manual decisions, outcomes) go to the dead-letter topic with the reason;
        the correlator's group signals (internal) are counted and logged."""
        why = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
        log.warning("bad_record", topic=tp.topic, offset=r.offset, error=why)
        if what == "group_signal":
            self._handled[f"bad_{what}"] += 1
            return
        source = Source(tp.topic, tp.partition, r.offset)
        out.deadletters.append(
            DeadLetter(f"invalid_{what}", why, source, r.key, r.value, time.time())
        )
        out.stats[f"dead_invalid_{what}"] += 1

    def _alignment_bound(self, batch: dict[TopicPartition, list[Any]]) -> float | None:
        """How far in event time the requests partitions of this batch may go.

        A fetch can hold hours of event time of one partition when a worker catches up on
        a backlog; processed as is, accounts of one IP would reach the correlator hours
        apart and their group windows would never see them together. So each partition
        goes at most ``align_slack_s`` past the earliest next event of the batch; what is
        left is read again (the partition holding the earliest event always advances).
        """
        if self.align_topic is None:
            return None
        starts = [
            t
            for tp, records in batch.items()
            if tp.topic == self.align_topic
            and (t := self.partitions[tp.partition].next_ts(records)) is not None
        ]
        # partitions with a backlog that this batch did not bring hold it back too
        starts += [
            t for tp, t in self.backlog_heads().items() if tp not in batch and t != float("-inf")
        ]
        if len(starts) < 2:
            return None
        if self._held_batches >= HELD_BATCHES_MAX:
            # nothing moved for many batches (a partition that seemed behind never came):
            # liveness first — this batch goes unbounded
            self._held_batches = 0
            self._handled["alignment_given_up"] += 1
            return None
        return self.align_floor(starts) + self.align_slack_s

    def align_floor(self, heads: list[float]) -> float:
        """The slowest partition of the oldest era two or more partitions are in: one far
        behind on its own (an event with an odd timestamp) neither sets everyone's pace nor
        unpauses them all as 'another era' (stream.core.older_era)."""
        return era_floor(heads)

    def left_for_later(self) -> dict[TopicPartition, int]:
        return self._later

    def _plan(self, outcomes: list[tuple[int, BatchResult]]) -> Publish:
        plan = Publish()
        for partition, out in outcomes:
            self._observed.append(out)
            add_outcome(plan, self.settings, partition, out)
        return plan

    def housekeeping(self) -> Publish | None:
        outcomes = []
        for p, det in self.partitions.items():
            gone = det.expire_idle()
            if gone:
                outcomes.append((p, BatchResult(evicted=gone)))
                self.stats["actors_expired"] += len(gone)
            self.stats["older_era_dropped"] += det.older_era.take_dropped()
        plan = self._plan(outcomes)
        if self.models.snapshot_due() and self.partitions:
            plan.state.extend(self.models.snapshots(self.partitions))
        return plan if plan.results or plan.packed or plan.state else None

    def active_actors(self) -> int:
        return sum(len(d.actors) for d in self.partitions.values())

    def after_commit(self, plan: Publish) -> None:
        bins = self._score_bins
        for det in self.partitions.values():
            n = det.actors.take_unreadable()  # cold entries that did not decode when used
            if n:
                self._handled["state_unreadable"] += n
        self._batches += 1
        if self._batches >= GC_FREEZE_EVERY_BATCHES:
            self._freeze()
        self.stats.update(self._handled)
        self._handled.clear()
        for out in self._observed:
            self.stats.update(out.stats)  # counted once published and committed
            self.metrics.observe(out)
            for sc in out.scores:
                if sc.slot == "live":
                    bins[min(19, int(sc.score * 20))] += 1
        self._observed.clear()

    def observe_batch(self, duration_s: float) -> None:
        self.metrics.batch_duration.labels(self.name).observe(duration_s)

    def score_histogram(self) -> list[int]:
        """Live scores of the detector's lifetime in 20 bins of 0.05."""
        return list(self._score_bins)

    def update_gauges(self) -> None:
        m = self.metrics
        m.active_actors.set(self.active_actors())
        m.model.clear()
        for slot, label in self.models.labels().items():
            if label:
                m.model.labels(slot, label).set(1)
        m.lag_of(self.group_id).update(detector_lags(self.consumer, self.positions))
