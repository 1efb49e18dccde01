"""Replaying access logs as request events: parse, label declared crawlers, publish.

The parsing is :mod:`stream.harness.access_log`; this module turns whole files into
time-ordered events (several logs — a dataset's ``humans/`` and ``bots/`` directories, a
server's rotated files — merged into one stream by event time), labels actors that
declare a crawler user agent (weak labels for an evaluation), and publishes either as
fast as possible or at a multiple of the log's own pace.

Memory is bounded: given a directory to spill to, a log is sorted in runs written there
and merged as read (:mod:`stream.harness.sorted_runs`). The order is that of one stable
sort of each file by event time, then a merge of the files (the earlier file first at
equal times), whatever the run size.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stream.harness.access_log import LogParser, ParseReport, open_log
from stream.harness.sorted_runs import RUN_EVENTS, Run, merge_runs, sorted_runs
from stream.harness.traffic import as_messages, event_key
from stream.kafka.writer import open_writer
from stream.settings import Settings

# Conservative: only user agents that say they are crawlers. Feed readers, link
# previewers and HTTP libraries are not labelled crawlers by this rule.
DECLARED_CRAWLER = re.compile(
    r"bot\b|bot/|crawl|spider|slurp|feedfetcher|mediapartners|ia_archiver", re.IGNORECASE
)


# events already due sent to the broker at once by a paced replay, at most
PACED_BATCH = 10_000


@dataclass
class Replay:
    """A log's events in time order: sorted runs, each in memory or spilled to a file
    (:mod:`stream.harness.sorted_runs`)."""

    runs: list[Run]
    report: ParseReport

    def events(self) -> Iterator[dict[str, Any]]:
        """The events in time order (the runs merged); each call reads them anew."""
        return merge_runs(self.runs)


def parse_log(
    path: Path, parser: LogParser, spill_to: Path | None = None, run_events: int = RUN_EVENTS
) -> Replay:
    """Every parsable line of ``path`` (plain or gzip) as a request event, in time order.

    Without ``spill_to`` the events are held in memory; with it, sorted runs of
    ``run_events`` are written to that directory (which the caller removes) and only one
    run is in memory at a time."""
    with open_log(path) as fh:
        runs = sorted_runs(parser.events(fh), spill_to, run_events)
    return Replay(runs, parser.report)


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
    if len(set(names)) != len(names):
        resolved = [f.resolve() for f in files]
        common = Path(os.path.commonpath(resolved))  # two files at least: names clash
        names = [str(r.relative_to(common)) for r in resolved]
    # a name's bytes that are no UTF-8 (b"access-\xff.log") written as escapes: an event
    # id holds text, and a lone surrogate is no text a JSON writer takes
    return [os.fsencode(n).decode("utf-8", "backslashreplace") for n in names]


def replay_runs(replays: Sequence[Replay]) -> list[Run]:
    """The runs of several logs in file order: merged (:func:`merge_runs`), one stream in
    time order, the earlier file first at equal times."""
    return [run for r in replays for run in r.runs]


def merge_replays(replays: Sequence[Replay]) -> Iterator[dict[str, Any]]:
    """The events of several logs, each in time order, as one stream in time order (the
    earlier file first at equal times), read as they are consumed."""
    return merge_runs(replay_runs(replays))


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


def publish_paced(settings: Settings, events: Iterable[dict[str, Any]], speed: float) -> int:
    """Publish at ``speed`` times the log's own pace (1 = real time): the events already
    due go together, then the replay waits for the next one's time."""

    async def go() -> int:
        sent, batch = 0, list[dict[str, Any]]()
        start: tuple[float, float] | None = None  # the first event's time, the wall's then
        async with open_writer(settings) as writer:
            for event in events:
                if start is None:
                    start = (event["ts"], time.monotonic())
                due = start[1] + (event["ts"] - start[0]) / speed
                if batch and (due > time.monotonic() or len(batch) >= PACED_BATCH):
                    sent += await writer.write(as_messages(settings.topic_requests, batch))
                    batch = []
                await asyncio.sleep(max(0.0, due - time.monotonic()))  # after the write
                batch.append(event)
            if batch:
                sent += await writer.write(as_messages(settings.topic_requests, batch))
        return sent

    return asyncio.run(go())
