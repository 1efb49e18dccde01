"""The correlator agent: account-per-IP activity in (keyed by subnet), group signals out."""

from __future__ import annotations

from typing import Any

import structlog
from aiokafka import TopicPartition

from stream.core.correlation import GroupCorrelator, GroupState
from stream.core.policy import Policy
from stream.core.records import Activity
from stream.kafka.batch_consumer import BatchConsumer, Publish
from stream.kafka.changelog import StateChangelog
from stream.settings import Settings

log = structlog.get_logger(__name__)


class Correlator(BatchConsumer):
    name = "correlator"

    def __init__(self, settings: Settings, policy: Policy, **kwargs: Any) -> None:
        self.policy = policy
        self.partitions: dict[int, GroupCorrelator] = {}
        self._changelog: StateChangelog[GroupState] | None = None
        super().__init__(settings, [settings.activity_topic], settings.correlator_group, **kwargs)

    async def on_producer_ready(self) -> None:
        assert self.producer is not None
        self._changelog = StateChangelog(
            self.settings, self.producer, self.settings.group_state_topic, GroupState.decode
        )

    async def acquire(self, partitions: set[int]) -> None:
        new = [p for p in partitions if p not in self.partitions]
        assert self._changelog is not None
        restored = await self._changelog.restore(new)
        async with self.lock:
            for p in new:
                core = GroupCorrelator(self.policy)
                core.groups.update(restored[p])
                core.watermark = max((g.last_ts for g in core.groups.values()), default=0.0)
                self.partitions[p] = core

    async def release(self, partitions: set[int]) -> None:
        for p in partitions:
            self.partitions.pop(p, None)

    def owns(self, partition: int) -> bool:
        return partition in self.partitions

    def handle(self, batch: dict[TopicPartition, list[Any]]) -> Publish:
        s = self.settings
        plan = Publish()
        for tp, records in batch.items():
            core = self.partitions[tp.partition]
            acts = []
            for r in records:
                try:
                    acts.append(Activity.decode(r.value))
                except ValueError as exc:
                    self.stats["bad_activity"] += 1
                    log.warning("bad_record", topic=tp.topic, offset=r.offset, error=str(exc))
            signals, changed = core.process(acts)
            self.stats["activities"] += len(acts)
            self.stats["group_signals"] += len(signals)
            for sig in signals:
                plan.results.append((s.signals_topic, sig.actor.encode(), sig.encode(), None))
                log.info("group_signal", actor=sig.actor, group=sig.group, reason=sig.reason)
            for key in changed:
                plan.state.append(
                    (s.group_state_topic, key.encode(), core.groups[key].encode(), tp.partition)
                )
        return plan

    def housekeeping(self) -> Publish | None:
        plan = Publish()
        for p, core in self.partitions.items():
            for key in core.expire_idle():
                plan.state.append((self.settings.group_state_topic, key.encode(), None, p))
        return plan if plan.state else None
