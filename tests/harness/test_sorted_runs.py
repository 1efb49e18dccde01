"""The external merge sort of replayed events (:mod:`stream.harness.sorted_runs`): runs
spilled and merged give one stable sort by event time, with a bounded number of files
open at once."""

import random
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from stream.harness.sorted_runs import compact, merge_runs, sorted_runs


def events(n: int, seed: int) -> list[dict[str, Any]]:
    """Out of time order, many at one time (ties must keep their order), floats as the
    parser writes them."""
    rng = random.Random(seed)
    return [{"ts": 1.7e9 + rng.randrange(20) / 4, "event_id": f"e{i}"} for i in range(n)]


@pytest.mark.parametrize(("run_events", "fan_in"), [(1, 2), (3, 4), (7, 3), (1000, 2)])
def test_compacted_runs_merge_to_one_stable_sort(
    tmp_path: Path, run_events: int, fan_in: int
) -> None:
    evs = events(200, seed=run_events)
    half = sorted(evs[100:], key=lambda e: e["ts"])  # a run held in memory among the files
    runs = [*sorted_runs(evs[:100], tmp_path, run_events), half]
    expected = sorted(evs[:100], key=lambda e: e["ts"])
    expected = list(merge_runs([expected, half]))
    assert list(merge_runs(runs)) == expected
    compacted = compact(runs, tmp_path, fan_in)
    spilled = [r for r in compacted if isinstance(r, Path)]
    assert len(spilled) <= fan_in
    assert sorted(tmp_path.iterdir()) == sorted(spilled)  # merged runs' files removed
    assert list(merge_runs(compacted)) == expected
    assert list(merge_runs(compacted)) == expected  # read anew


def test_a_run_round_trips_every_float_and_text(tmp_path: Path) -> None:
    odd = [
        {"ts": 5e-324, "path": '/\u2028\x00"é'},
        {"ts": 1.7e9 + 0.1, "path": "/a", "fields": ["x"], "status": 200, "referrer": None},
    ]
    assert list(merge_runs(sorted_runs(odd, tmp_path, 1))) == odd


def test_replay_of_more_files_than_may_be_open_at_once(tmp_path: Path) -> None:
    # a review of this stop: every spilled run was an open file while merged, so a
    # directory of 1,100 logs failed at the default limit of 1,024 open files
    logs = tmp_path / "logs"
    logs.mkdir()
    line = '198.51.100.{n} - - [26/Nov/2026:10:{m:02d}:00 +0000] "GET / HTTP/1.1" 200 5 "-" "M"\n'
    for n in range(150):
        (logs / f"access_{n:03d}.log").write_text(line.format(n=n % 250, m=59 - n % 60))
    out = tmp_path / "events.jsonl"

    args = ["--events-out", str(out)]

    def few_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (120, 120))

    done = subprocess.run(
        [*[sys.executable, "-m", "stream", "replay", str(logs), "--no-publish"], *args],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=few_files,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "150 files: 150 lines, 150 events, 0 unparsable" in done.stdout
    times = [orjson.loads(line)["ts"] for line in out.read_bytes().splitlines()]
    assert len(times) == 150 and times == sorted(times)
