"""The incidents agent: feed items in (keyed by incident key), incidents and ledger out.

A Faust agent (:mod:`stream.runtime.faust_agent`) around the pure
:class:`~stream.core.incidents.IncidentBook`; open incidents are changelogged.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import faust
import structlog

from stream.core.incidents import Incident, IncidentBook
from stream.core.internal_records import FeedItem, LedgerEntry, encode_incident
from stream.core.pseudonym import Pseudonymizer
from stream.kafka.changelog import StateChangelog
from stream.kafka.writer import Publish, WriterService
from stream.runtime.batch_outputs import state_bytes
from stream.runtime.faust_agent import BatchedFaustAgent, read_items
from stream.settings import Settings

log = structlog.get_logger(__name__)


class IncidentsAgent(BatchedFaustAgent):
    name = "incidents"
    housekeeping_every_s = 10.0

    def __init__(
        self,
        app: faust.App,
        settings: Settings,
        pseudonymizer: Pseudonymizer,
        writer: WriterService,
    ) -> None:
        self.pseudo = pseudonymizer
        self.books: dict[int, IncidentBook] = {}
        self._evictions_of_dropped: Counter[str] = Counter()
        super().__init__(app, settings, settings.incident_feed_topic, writer)

    def _book(self) -> IncidentBook:
        return IncidentBook(self.settings.incident_quiet_s, self.pseudo.actor)

    async def restore(self, partitions: set[int]) -> None:
        changelog = StateChangelog(
            self.settings,
            self.writer.writer.producer,
            self.settings.incident_state_topic,
            Incident.decode,
        )
        restored = await changelog.restore(partitions)
        async with self.lock:
            for p in partitions:
                book = self._book()
                for inc in sorted(restored[p].values(), key=lambda i: i.last_at):
                    book.open[inc.key] = inc  # least recently active first
                    book.watermark = max(book.watermark, inc.last_at)
                self.books[p] = book

    def drop(self, partitions: set[int]) -> None:
        for p in partitions:
            book = self.books.pop(p, None)
            if book is not None:
                self._evictions_of_dropped.update(book.evictions)

    def evictions(self) -> Counter[str]:
        """What the incident books' bounds dropped, by kind, since the worker started."""
        total = Counter(self._evictions_of_dropped)
        for book in self.books.values():
            total.update(book.evictions)
        return total

    def open_incidents(self) -> int:
        return sum(len(b.open) for b in self.books.values())

    def handle(self, batch: Mapping[int, list[Any]]) -> Publish:
        plan = Publish()
        for partition, records in batch.items():
            items = read_items(records, FeedItem.from_doc, "feed item", self.stats)
            book = self.books[partition]
            skipped = book.skipped
            updates, ledger = book.process(items)
            self.stats["skipped_feed_item"] += book.skipped - skipped
            self._emit(plan, partition, updates)
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
            summary = state_bytes(inc.summary(), encode_incident, self.stats, "incident")
            if summary is not None:
                plan.results.append((s.topic_incidents, inc.id.encode(), summary, None))
            value = None  # a closed incident's state is deleted
            if inc.status == "open":
                value = state_bytes(inc, Incident.encode, self.stats, "incident state")
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
