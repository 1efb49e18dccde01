"""The incidents agent: feed items in (keyed by incident key), incidents and ledger out."""

from __future__ import annotations

from typing import Any

import structlog
from aiokafka import TopicPartition

from stream.core.incidents import Incident, IncidentBook
from stream.core.pseudonym import Pseudonymizer
from stream.core.records import FeedItem, LedgerEntry, encode_incident
from stream.kafka.batch_consumer import BatchConsumer, Publish
from stream.kafka.changelog import StateChangelog
from stream.settings import Settings

log = structlog.get_logger(__name__)


class IncidentAgent(BatchConsumer):
    name = "incidents"
    housekeeping_every_s = 10.0

    def __init__(self, settings: Settings, pseudonymizer: Pseudonymizer, **kwargs: Any) -> None:
        self.pseudo = pseudonymizer
        self.books: dict[int, IncidentBook] = {}
        self._changelog: StateChangelog[Incident] | None = None
        super().__init__(
            settings, [settings.incident_feed_topic], settings.incidents_group, **kwargs
        )

    async def on_producer_ready(self) -> None:
        assert self.producer is not None
        self._changelog = StateChangelog(
            self.settings, self.producer, self.settings.incident_state_topic, Incident.decode
        )

    def _book(self) -> IncidentBook:
        return IncidentBook(self.settings.incident_quiet_s, self.pseudo.actor)

    async def acquire(self, partitions: set[int]) -> None:
        new = [p for p in partitions if p not in self.books]
        assert self._changelog is not None
        restored = await self._changelog.restore(new)
        async with self.lock:
            for p in new:
                book = self._book()
                for inc in restored[p].values():
                    book.open[inc.key] = inc
                    book.watermark = max(book.watermark, inc.last_at)
                self.books[p] = book

    async def release(self, partitions: set[int]) -> None:
        for p in partitions:
            self.books.pop(p, None)

    def owns(self, partition: int) -> bool:
        return partition in self.books

    def open_incidents(self) -> int:
        return sum(len(b.open) for b in self.books.values())

    def handle(self, batch: dict[TopicPartition, list[Any]]) -> Publish:
        plan = Publish()
        for tp, records in batch.items():
            items = []
            for r in records:
                try:
                    items.append(FeedItem.decode(r.value))
                except ValueError as exc:
                    self.stats["bad_feed_item"] += 1
                    log.warning("bad_record", topic=tp.topic, offset=r.offset, error=str(exc))
            updates, ledger = self.books[tp.partition].process(items)
            self._emit(plan, tp.partition, updates)
            for incident_id, it in ledger:
                entry = LedgerEntry(
                    incident_id,
                    it.profile or "",
                    it.sealed,
                    it.fields or [],
                    it.ts,
                    self.pseudo.actor(it.actor),
                )
                plan.results.append(
                    (self.settings.ledger_topic, incident_id.encode(), entry.encode(), None)
                )
            self.stats["ledger_entries"] += len(ledger)
        return plan

    def _emit(self, plan: Publish, partition: int, incidents: list[Incident]) -> None:
        s = self.settings
        for inc in incidents:
            plan.results.append(
                (s.topic_incidents, inc.id.encode(), encode_incident(inc.summary()), None)
            )
            value = inc.encode() if inc.status == "open" else None
            plan.state.append((s.incident_state_topic, inc.key.encode(), value, partition))
            if inc.version == 1 or inc.status == "closed":
                log.info(
                    "incident",
                    id=inc.id,
                    status=inc.status,
                    key=inc.key,
                    severity=inc.severity,
                    actors=len(inc.actors),
                    affected_profiles=len(inc.profiles),
                )

    def housekeeping(self) -> Publish | None:
        plan = Publish()
        for p, book in self.books.items():
            self._emit(plan, p, book.close_idle())
        return plan if plan.results else None
