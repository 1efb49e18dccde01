"""Replaying access logs as request events: parse, label declared crawlers, publish.

The parsing is :mod:`stream.harness.access_log`; this module turns whole files into
time-ordered events (several logs — a dataset's ``humans/`` and ``bots/`` directories, a
server's rotated files — merged into one stream by event time), labels actors that
declare a crawler user agent (weak labels for an evaluation), and publishes either as
fast as possible or at a multiple of the log's own pace.
"""

from __future__ import annotations

import asyncio
import heapq
import os
import re
import time
from collections.abc import Iterable, Sequence
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


def log_files(paths: Iterable[Path]) -> list[Path]:
    """The files to replay: each file named, and every file under each directory named
    (recursively, by path, following links to directories once each; hidden files and
    directories skipped). ValueError for a directory with no file or one that cannot be
    read (never a part skipped in silence), or a path that is neither."""
    files: list[Path] = []
    for path in paths:
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            found = _files_under(path)
            if not found:
                raise ValueError(f"{path}: a directory with no log file in it")
            files.extend(found)
        else:
            raise ValueError(f"{path}: neither a file nor a directory")
    # a file named twice (or under two directories named) is replayed once, where first
    unique: dict[Path, Path] = {}
    for f in files:
        unique.setdefault(f.resolve(), f)
    return list(unique.values())


def _files_under(top: Path) -> list[Path]:
    def unreadable(exc: OSError) -> None:
        raise ValueError(f"{exc.filename}: cannot be read ({exc.strerror})")

    seen: set[Path] = set()
    found: list[Path] = []
    for root, dirs, names in os.walk(top, onerror=unreadable, followlinks=True):
        real = Path(root).resolve()
        if real in seen:  # a link back to a directory already walked
            dirs.clear()
            continue
        seen.add(real)
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            path = Path(root) / name
            if name.startswith("."):
                continue
            if not path.is_file():  # a broken link, a pipe: never read, never skipped
                raise ValueError(f"{path}: not a regular file")
            found.append(path)
    return sorted(found)


def source_names(files: Sequence[Path]) -> list[str]:
    """A name per file for its events' ids (``NAME:LINE``), unique among ``files``: the
    file's name, or its path below the files' common directory when two share a name
    (a dataset's ``humans/access_1.log`` and ``bots/access_1.log``)."""
    names = [f.name for f in files]
    if len(set(names)) == len(names):
        return names
    resolved = [f.resolve() for f in files]
    common = Path(os.path.commonpath(resolved))  # two files at least: names clash
    return [str(r.relative_to(common)) for r in resolved]


def merge_replays(replays: Sequence[Replay]) -> list[dict[str, Any]]:
    """The events of several logs, each in time order, as one stream in time order (the
    earlier file first at equal times)."""
    return list(heapq.merge(*(r.events for r in replays), key=lambda e: e["ts"]))


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
