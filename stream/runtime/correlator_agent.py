"""The correlator agent: account-per-IP activity in (keyed by subnet), group signals out.

A Faust agent (:mod:`stream.runtime.faust_agent`) around the pure
:class:`~stream.core.correlation.GroupCorrelator`; group state is changelogged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import faust
import structlog

from stream.core.correlation import GroupCorrelator
from stream.core.group_state import GroupState, SessionGroup
from stream.core.internal_records import Activity
from stream.core.policy import Policy
from stream.kafka.changelog import StateChangelog
from stream.kafka.writer import Publish, WriterService
from stream.runtime.batch_outputs import state_bytes
from stream.runtime.faust_agent import BatchedFaustAgent, read_items
from stream.settings import Settings

log = structlog.get_logger(__name__)


def _encoded(g: GroupState | SessionGroup) -> bytes:
    return g.encode()


class CorrelatorAgent(BatchedFaustAgent):
    name = "correlator"

    def __init__(
        self, app: faust.App, settings: Settings, policy: Policy, writer: WriterService
    ) -> None:
        self.policy = policy
        self.partitions: dict[int, GroupCorrelator] = {}
        super().__init__(app, settings, settings.activity_topic, writer)

    async def restore(self, partitions: set[int]) -> None:
        changelog = StateChangelog(
            self.settings,
            self.writer.writer.producer,
            self.settings.group_state_topic,
            bytes,  # read by key: an address's sessions or a group (GroupCorrelator.restore)
        )
        restored = await changelog.restore(partitions)
        async with self.lock:
            for p in partitions:
                core = GroupCorrelator(self.policy)
                self.stats["group_state_skipped"] += core.restore(restored[p].items())
                self.partitions[p] = core

    def use_policy(self, policy: Policy) -> None:
        """A policy deployed through the control log. Called between the detector's
        batches; the correlator's batches are synchronous, so it lands between two of
        them too."""
        self.policy = policy
        for core in self.partitions.values():
            core.policy = policy

    def drop(self, partitions: set[int]) -> None:
        for p in partitions:
            self.partitions.pop(p, None)

    def handle(self, batch: Mapping[int, list[Any]]) -> Publish:
        s = self.settings
        plan = Publish()
        for p, records in batch.items():
            core = self.partitions[p]
            acts = read_items(records, Activity.from_doc, "activity", self.stats)
            skipped = core.skipped
            signals, changed = core.process(acts)
            self.stats["skipped_activity"] += core.skipped - skipped
            self.stats["activities"] += len(acts)
            self.stats["group_signals"] += len(signals)
            for sig in signals:
                plan.results.append((s.signals_topic, sig.actor.encode(), sig.encode(), None))
                log.info(  # the log processor pseudonymises actor and group
                    "group_signal",
                    actor=sig.actor,
                    group=sig.group,
                    metric=sig.metric,
                    value=sig.value,
                    threshold=sig.threshold,
                )
            for key in changed:
                value = state_bytes(core.state(key), _encoded, self.stats, "group state")
                plan.state.append((s.group_state_topic, key.encode(), value, p))
            self._tombstone_evicted(plan, p, core)
        return plan

    def _tombstone_evicted(self, plan: Publish, p: int, core: GroupCorrelator) -> None:
        gone = core.take_evicted()
        self.stats["evicted_groups"] += len(gone)
        for key in gone:
            plan.state.append((self.settings.group_state_topic, key.encode(), None, p))

    def housekeeping(self) -> Publish | None:
        plan = Publish()
        for p, core in self.partitions.items():
            for key in core.expire_idle():
                plan.state.append((self.settings.group_state_topic, key.encode(), None, p))
            self.stats["older_era_dropped"] += core.older_era.take_dropped()
        return plan if plan.state else None
