"""Replaying an access log as request events: parse, label declared crawlers, publish.

The parsing is :mod:`stream.harness.access_log`; this module turns a whole file into
time-ordered events, labels actors that declare a crawler user agent (weak labels for
an evaluation), and publishes either as fast as possible or at a multiple of the log's
own pace.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stream.harness.access_log import LogParser, ParseReport, open_log
from stream.harness.traffic import as_messages, event_key
from stream.kafka.writer import open_writer
from stream.settings import Settings

# Conservative: only user agents that say they are crawlers. Feed readers, link
# previewers and HTTP libraries are not labelled crawlers by this rule.
DECLARED_CRAWLER = re.compile(
    r"bot\b|bot/|crawl|spider|slurp|feedfetcher|mediapartners|ia_archiver", re.IGNORECASE
)


@dataclass
class Replay:
    events: list[dict[str, Any]]
    report: ParseReport


def parse_log(path: Path, parser: LogParser) -> Replay:
    """Every parsable line of ``path`` (plain or gzip) as a request event, in time order."""
    with open_log(path) as fh:
        events = sorted(parser.events(fh), key=lambda e: e["ts"])
    return Replay(events, parser.report)


def crawler_labels(events: Iterable[dict[str, Any]]) -> dict[str, str]:
    """``declared_crawler`` if an actor ever declared a crawler UA, else ``human_unverified``."""
    labels: dict[str, str] = {}
    for e in events:
        key = event_key(e)
        if key is None:
            continue
        actor = key.decode()
        if DECLARED_CRAWLER.search(e.get("user_agent") or ""):
            labels[actor] = "declared_crawler"
        else:
            labels.setdefault(actor, "human_unverified")
    return labels


def publish_paced(settings: Settings, events: list[dict[str, Any]], speed: float) -> int:
    """Publish at ``speed`` times the log's own pace (1 = real time)."""

    async def go() -> int:
        t0_event, t0_wall, sent = events[0]["ts"], time.monotonic(), 0
        async with open_writer(settings) as writer:
            i = 0
            while i < len(events):
                due = t0_wall + (events[i]["ts"] - t0_event) / speed
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                horizon = t0_event + (time.monotonic() - t0_wall) * speed
                j = i
                while j < len(events) and events[j]["ts"] <= horizon:
                    j += 1
                j = max(j, i + 1)
                sent += await writer.write(as_messages(settings.topic_requests, events[i:j]))
                i = j
        return sent

    return asyncio.run(go()) if events else 0
