"""Sorting more events than memory holds: an external merge sort by event time.

Events are sorted in runs of a bounded size; a run is kept in memory (a list) or spilled
to a file of JSON lines (gzip level 1: ~10 times smaller than the text, where ``$TMPDIR``
may be memory). :func:`merge_runs` merges runs lazily, the earlier run first at equal
times, so the result is that of one stable sort of everything in run order. At most
:data:`FAN_IN` spilled runs are merged at once (each is an open file while merged):
:func:`compact` first merges consecutive groups of them into longer runs, which leaves
the order unchanged (a stable merge of consecutive groups is the same merge).
"""

from __future__ import annotations

import contextlib
import gzip
import heapq
import tempfile
from collections.abc import Generator, Iterable, Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import Any

import orjson

Event = dict[str, Any]
Run = list[Event] | Path

# events sorted in memory at a time (~1.5 KB each at the peak of a sort: ~150 MB)
RUN_EVENTS = 100_000
# spilled runs merged at once (open files); the default limit of open files is 1,024
FAN_IN = 64


def by_ts(event: Event) -> float:
    ts: float = event["ts"]
    return ts


def sorted_runs(
    events: Iterable[Event], spill_to: Path | None, run_events: int = RUN_EVENTS
) -> list[Run]:
    """``events`` in sorted runs: one list in memory without ``spill_to``, else runs of
    ``run_events`` spilled to files in that directory (which the caller removes)."""
    if spill_to is None:
        return [sorted(events, key=by_ts)]
    it = iter(events)
    runs: list[Run] = []
    while chunk := sorted(islice(it, run_events), key=by_ts):
        runs.append(spill(chunk, spill_to))
    return runs


def spill(events: Iterable[Event], spill_to: Path) -> Path:
    """``events`` (already in order) written to a new run file in ``spill_to``."""
    with (
        tempfile.NamedTemporaryFile(
            dir=spill_to, prefix="run-", suffix=".jsonl.gz", delete=False
        ) as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1) as out,
    ):
        out.writelines(orjson.dumps(e, option=orjson.OPT_APPEND_NEWLINE) for e in events)
    return Path(raw.name)


def read_run(run: Run) -> Iterator[Event]:
    if isinstance(run, list):
        yield from run
        return
    with gzip.open(run, "rb") as fh:
        for line in fh:
            yield orjson.loads(line)


def merge_runs(runs: Sequence[Run]) -> Generator[Event, None, None]:
    """The runs' events in time order, read as consumed (the earlier run first at equal
    times); each call reads them anew."""
    return heapq.merge(*(read_run(run) for run in runs), key=by_ts)


def compact(runs: Sequence[Run], spill_to: Path, fan_in: int = FAN_IN) -> list[Run]:
    """``runs`` with at most ``fan_in`` of them spilled: consecutive groups merged into
    longer runs (and their files removed) until so, the order of :func:`merge_runs`
    unchanged."""
    out = list(runs)
    while sum(isinstance(run, Path) for run in out) > fan_in:
        merged: list[Run] = []
        for i in range(0, len(out), fan_in):
            group = out[i : i + fan_in]
            if len(group) == 1:
                merged.extend(group)
                continue
            with contextlib.closing(merge_runs(group)) as events:
                merged.append(spill(events, spill_to))
            for run in group:
                if isinstance(run, Path):
                    run.unlink()
        out = merged
    return out
