"""The live decisions board of ``scrapeguard run``: reads ``decisions`` like enforcement does."""

from __future__ import annotations

import sys
import time
from typing import Any

from mode import Service
from rich.console import Console
from rich.live import Live
from rich.table import Table

from stream.core.records import Decision
from stream.core.utc_text import CLOCK, utc_text
from stream.kafka.read_to_end import TopicReader
from stream.settings import Settings

STYLE = {"allow": "green", "challenge": "yellow", "block": "bold red"}


def clock(ts: float) -> str:
    return utc_text(ts, CLOCK)


def duration(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:.0f}h"
    if seconds >= 60:
        return f"{seconds / 60:.0f}min"
    return f"{seconds:.0f}s"


def describe(d: Decision) -> str:
    """One readable line per decision."""
    shadow = " (shadow)" if d.shadow else ""
    until = f" for {duration(d.ttl_s)}" if d.action != "allow" else ""
    return (
        f"{clock(d.ts)}  {d.action.upper():<9}{shadow} {d.actor:<28} {'; '.join(d.reasons)}{until}"
    )


class DecisionBoard(Service):
    def __init__(self, settings: Settings, started_at: float, **kwargs: Any) -> None:
        self.settings = settings
        self.started_at = started_at
        self.history: list[Decision] = []
        self.latest: dict[str, Decision] = {}
        self.detector: Any = None
        self.console = Console()
        self.interactive = sys.stdout.isatty()
        self._live: Live | None = None
        self._reader = TopicReader(settings, {settings.topic_decisions: self._on_decision})
        super().__init__(**kwargs)

    def attach(self, detector: Any) -> None:
        self.detector = detector

    async def on_start(self) -> None:
        await self._reader.start()
        if self.interactive:
            self._live = Live(self._table(), console=self.console, refresh_per_second=2)
            self._live.start()

    async def on_stop(self) -> None:
        if self._live is not None:
            self._live.update(self._table())
            self._live.stop()
        await self._reader.stop()

    def _on_decision(self, rec: Any) -> None:
        d = Decision.decode(rec.value)  # a record that does not decode is skipped
        if d.ts < self.started_at - 5:
            return  # an earlier run's decision on a reused broker
        self.history.append(d)
        self.latest[d.actor] = d
        if not self.interactive:
            print(describe(d), flush=True)

    @Service.task
    async def _follow(self) -> None:
        await self._reader.read_to_end()
        await self._reader.follow()

    @Service.timer(0.5)
    async def _refresh(self) -> None:
        if self._live is not None:
            self._live.update(self._table())

    def _table(self) -> Table:
        stats = self.detector.stats if self.detector is not None else {}
        title = (
            f"scrapeguard decisions — {stats.get('events', 0)} events processed, "
            f"{len(self.history)} decisions, {time.time() - self.started_at:.0f}s"
        )
        table = Table(title=title, expand=False)
        for col in ("event time", "actor", "action", "reasons", "for"):
            table.add_column(col)
        for d in self.history[-25:]:
            table.add_row(
                clock(d.ts),
                d.actor,
                f"[{STYLE[d.action]}]{d.action}[/]",
                "; ".join(d.reasons),
                duration(d.ttl_s) if d.action != "allow" else "-",
            )
        return table

    def print_summary(self) -> None:
        print(f"\nsummary: {len(self.history)} decisions")
        for actor in sorted(self.latest):
            actions = " → ".join(d.action for d in self.history if d.actor == actor)
            print(f"  {actor:<28} {actions}")
        if not self.latest:
            print("  no actor was challenged or blocked")
