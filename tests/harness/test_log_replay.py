"""Replaying several logs as one (:mod:`stream.harness.log_replay`, ``scrapeguard replay``):
the files under directories, unique event ids, one stream in event time."""

import os
import random
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from stream.cli import main
from stream.harness.access_log import LogParser
from stream.harness.log_formats import KNOWN_FORMATS
from stream.harness.log_replay import (
    Replay,
    log_files,
    merge_replays,
    parse_log,
    source_names,
)

# a public web-bot dataset's layout (addresses removed; a session id after the referrer)
DATASET = '- - [{t}] "GET {path} HTTP/1.1" 200 512 "-" {sid} "Mozilla/5.0 (X11; Linux x86_64)"'
COMBINED = (
    '198.51.100.{n} - - [{t}] "GET {path} HTTP/1.1" 200 512 "-" "Mozilla/5.0 (Windows NT 10.0)"'
)


def stamp(minute: int) -> str:
    return f"26/Nov/2026:10:{minute:02d}:00 +0000"


def write(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def dataset(root: Path) -> None:
    """``humans/access_1.log`` and ``bots/access_1.log``: the same name in two directories,
    their times interleaved."""
    write(
        root / "humans" / "access_1.log",
        [DATASET.format(t=stamp(m), path=f"/news/{m}", sid="h1") for m in (0, 2, 4)],
    )
    write(
        root / "bots" / "access_1.log",
        [DATASET.format(t=stamp(m), path=f"/news/{m}", sid="b1") for m in (1, 3, 5)],
    )


def test_a_directory_stands_for_every_file_under_it(tmp_path: Path) -> None:
    dataset(tmp_path)
    write(tmp_path / ".hidden" / "x.log", ["nothing"])
    write(tmp_path / "bots" / ".swp", ["nothing"])
    files = log_files([tmp_path])
    assert [f.relative_to(tmp_path).as_posix() for f in files] == [
        "bots/access_1.log",
        "humans/access_1.log",
    ]
    # a file named twice, or also under a directory named, is replayed once
    assert log_files([tmp_path / "bots" / "access_1.log", tmp_path]) == [
        tmp_path / "bots" / "access_1.log",
        tmp_path / "humans" / "access_1.log",
    ]


def test_links_to_directories_are_followed_once(tmp_path: Path) -> None:
    dataset(tmp_path / "ds")
    (tmp_path / "ds" / "humans" / "again").symlink_to(tmp_path / "ds")  # a cycle
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "bots").symlink_to(tmp_path / "ds" / "bots")
    assert [f.relative_to(tmp_path).as_posix() for f in log_files([tmp_path / "logs"])] == [
        "logs/bots/access_1.log"
    ]
    assert len(log_files([tmp_path / "ds"])) == 2


def test_an_unreadable_directory_is_an_error_not_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # as a directory without read permission answers (chmod does not stop root, who runs CI)
    dataset(tmp_path)
    scandir = os.scandir

    def refuse(path: Any) -> Any:
        if Path(path).name == "bots":
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refuse)
    with pytest.raises(ValueError, match="bots: cannot be read \\(Permission denied\\)"):
        log_files([tmp_path])


def test_a_broken_link_in_a_directory_is_an_error(tmp_path: Path) -> None:
    dataset(tmp_path)
    (tmp_path / "bots" / "access_2.log").symlink_to(tmp_path / "gone.log")
    with pytest.raises(ValueError, match=r"access_2\.log: not a regular file"):
        log_files([tmp_path])


def test_a_directory_without_a_log_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no log file"):
        log_files([tmp_path / "empty"])
    with pytest.raises(ValueError, match="neither a file nor a directory"):
        log_files([tmp_path / "missing.log"])


def test_event_ids_stay_unique_when_two_files_share_a_name(tmp_path: Path) -> None:
    dataset(tmp_path)
    files = log_files([tmp_path])
    assert source_names(files) == ["bots/access_1.log", "humans/access_1.log"]
    assert source_names([tmp_path / "a.log", tmp_path / "b" / "c.log"]) == ["a.log", "c.log"]
    # a name's bytes that are no UTF-8: escaped, since an event id is JSON text
    odd = Path(os.fsdecode(b"access-\xff.log"))
    assert source_names([odd]) == ["access-\\xff.log"]


def test_logs_merge_into_one_stream_in_event_time(tmp_path: Path) -> None:
    dataset(tmp_path)
    fmt = KNOWN_FORMATS["session id, without a remote user"]
    files = log_files([tmp_path])
    replays = [
        parse_log(f, LogParser(fmt, source=name))
        for f, name in zip(files, source_names(files), strict=True)
    ]
    events = list(merge_replays(replays))
    assert [e["session_id"] for e in events] == ["h1", "b1"] * 3
    assert [e["ts"] for e in events] == sorted(e["ts"] for e in events)
    assert len({e["event_id"] for e in events}) == 6
    assert list(merge_replays(replays[:1])) == list(replays[0].events())


def shuffled_log(path: Path, n: int, seed: int) -> Path:
    """``n`` combined lines out of time order, many at one second (ties keep line order)."""
    rng = random.Random(seed)
    lines = [
        COMBINED.format(n=rng.randrange(9), t=stamp(rng.randrange(6)), path=f"/p/{i}")
        for i in range(n)
    ]
    return write(path, lines)


@pytest.mark.parametrize("run_events", [1, 7, 50, 1000])
def test_spilled_runs_give_the_order_of_one_sort_in_memory(tmp_path: Path, run_events: int) -> None:
    # a log larger than memory is sorted in runs written to disk and merged on reading;
    # the order must be that of one stable sort of the whole file, ties in line order
    logs = [shuffled_log(tmp_path / f"access_{k}.log", 120, seed=k) for k in range(3)]
    spill = tmp_path / "spill"
    spill.mkdir()

    def replays(spill_to: Path | None) -> list[Replay]:
        return [
            parse_log(f, LogParser(source=f.name), spill_to, run_events=run_events) for f in logs
        ]

    held, spilled = replays(None), replays(spill)
    assert len(list(spill.iterdir())) == 3 * -(-120 // run_events)  # every run on disk
    assert all(isinstance(run, Path) for r in spilled for run in r.runs)
    assert list(merge_replays(spilled)) == list(merge_replays(held))
    assert list(merge_replays(spilled)) == list(merge_replays(spilled))  # read anew
    with logs[0].open() as fh:  # the oracle: the lines in file order, one stable sort
        in_line_order = list(LogParser(source=logs[0].name).events(fh))
    assert list(spilled[0].events()) == sorted(in_line_order, key=lambda e: e["ts"])
    assert list(spilled[0].events()) != in_line_order  # the log was out of order


def test_replay_takes_files_and_directories_each_in_its_own_format(tmp_path: Path) -> None:
    dataset(tmp_path / "web_logs")
    other = write(
        tmp_path / "rotated.log",
        [COMBINED.format(n=n, t=stamp(30 + n), path="/") for n in range(4)],
    )
    out = tmp_path / "events.jsonl"
    result = CliRunner().invoke(
        main,
        [
            "replay",
            str(tmp_path / "web_logs"),
            str(other),
            "--no-publish",
            "--events-out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "log format session id, without a remote user" in result.output
    assert "rotated.log: log format combined" in result.output
    assert "3 files: 10 lines, 10 events, 0 unparsable" in result.output
    events = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert len(events) == 10
    assert [e["ts"] for e in events] == sorted(e["ts"] for e in events)
    assert {e["event_id"].rsplit(":", 1)[0] for e in events} == {
        "web_logs/bots/access_1.log",
        "web_logs/humans/access_1.log",
        "rotated.log",
    }


def test_replay_of_an_empty_directory_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    result = CliRunner().invoke(main, ["replay", str(tmp_path / "logs"), "--no-publish"])
    assert result.exit_code == 2
    assert "no log file" in result.output


def test_replay_goes_past_an_empty_file_and_a_cut_gzip_and_writes_where_asked(
    tmp_path: Path,
) -> None:
    # review of this stop: an empty access.log beside rotated ones stopped the replay (no
    # format parses nothing), a gzip file cut short aborted it with no report, and
    # --events-out in a directory not made yet was a traceback
    import gzip

    lines = [COMBINED.format(n=n % 200, t=stamp(n % 60), path="/") for n in range(600)]
    write(tmp_path / "logs" / "access.log", []).write_text("")
    whole = gzip.compress(("\n".join(lines) + "\n").encode())
    (tmp_path / "logs" / "access.log.2.gz").write_bytes(whole[: len(whole) * 2 // 3])
    write(tmp_path / "logs" / "access.log.1", lines[:5])
    out = tmp_path / "new" / "dir" / "events.jsonl"
    args = ["replay", str(tmp_path / "logs"), "--no-publish", "--events-out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "access.log: 0 lines, 0 events, 0 unparsable" in result.output
    assert "access.log.2.gz: reading stopped after line" in result.output
    assert "(EOFError: Compressed file ended" in result.output
    assert len(out.read_bytes().splitlines()) > 5


def test_replay_says_which_events_the_worker_will_refuse(tmp_path: Path) -> None:
    # written as parsed (the worker dead-letters each with its reason), but said: counted
    # as events, they were a silent loss downstream (review of this stop)
    good = COMBINED.format(n=1, t=stamp(1), path="/")
    zero = good.replace(" 200 512 ", " 000 0 ")
    log = write(tmp_path / "access.log", [good, zero, zero.replace("198.51.100.1", "gw.local")])
    result = CliRunner().invoke(main, ["replay", str(log), "--no-publish"])
    assert result.exit_code == 0, result.output
    assert "3 lines, 3 events, 0 unparsable" in result.output
    assert "2 events the worker will refuse and dead-letter (2 invalid_field)" in result.output


def test_a_format_given_that_parses_nothing_fails_with_a_hint(tmp_path: Path) -> None:
    # every line unparsable used to end in "0 events" and exit 0: a script went on to
    # evaluate nothing
    log = write(
        tmp_path / "other_vhosts_access.log",
        ["www.example.org:80 " + COMBINED.format(n=1, t=stamp(1), path="/")] * 3,
    )
    given = ["--log-format", '$remote_addr - $remote_user [$time_local] "$request" $status']
    result = CliRunner().invoke(main, ["replay", str(log), "--no-publish", *given])
    assert result.exit_code == 1, result.output
    assert "3 lines, 0 events, 3 unparsable" in result.output
    assert "the known format vhost combined parses 3 of the first 3 lines" in result.output
    assert "no line parsed: nothing to replay" in result.output
    auto = CliRunner().invoke(main, ["replay", str(log), "--no-publish"])
    assert auto.exit_code == 0, auto.output
    assert "3 lines, 3 events, 0 unparsable" in auto.output


def test_replay_says_when_the_addresses_are_a_proxys(tmp_path: Path) -> None:
    lines = [
        COMBINED.format(n=1, t=stamp(i), path="/").replace("198.51.100.1", "10.0.0.5")
        + f' "203.0.113.{i}"'
        for i in range(10)
    ]
    log = write(tmp_path / "access.log", lines)
    out = tmp_path / "events.jsonl"
    plain = CliRunner().invoke(main, ["replay", str(log), "--no-publish", "--events-out", str(out)])
    assert plain.exit_code == 0, plain.output
    assert "log format nginx main" in plain.output
    assert "10 of 10 requests name an X-Forwarded-For address" in plain.output
    assert {orjson.loads(x)["ip"] for x in out.read_bytes().splitlines()} == {"10.0.0.5"}
    args = ["replay", str(log), "--no-publish", "--events-out", str(out), "--forwarded-for"]
    asked = CliRunner().invoke(main, [*args, "10.0.0.0/8"])
    assert asked.exit_code == 0 and "X-Forwarded-For" not in asked.output
    assert len({orjson.loads(x)["ip"] for x in out.read_bytes().splitlines()}) == 10
    bad = CliRunner().invoke(main, [*args, "10.0.0.0/33"])
    assert bad.exit_code == 2 and "'10.0.0.0/33' is no address or network" in bad.output


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (COMBINED.format(n=1, t=stamp(1), path="/"), "this format logs no $http_x_forwarded_for"),
        (  # a JSON log whose server logs no X-Forwarded-For (review of the last stop)
            '{"time": "2026-11-26T10:01:00Z", "remote_addr": "10.0.0.5", "request_uri": "/", '
            '"status": 200, "http_user_agent": "Mozilla/5.0"}',
            "no request of this log names an X-Forwarded-For address",
        ),
    ],
)
def test_forwarded_for_says_when_the_log_names_no_forwarded_address(
    tmp_path: Path, line: str, why: str
) -> None:
    log = write(tmp_path / "access.log", [line] * 3)
    result = CliRunner().invoke(
        main, ["replay", str(log), "--no-publish", "--forwarded-for", "10.0.0.0/8"]
    )
    assert result.exit_code == 0, result.output
    assert f"--forwarded-for, but {why}: every address is $remote_addr" in result.output


def test_without_a_temporary_directory_the_log_is_sorted_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    log = write(tmp_path / "access.log", [COMBINED.format(n=1, t=stamp(1), path="/")])
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-dir"))  # as a full disk
    out = tmp_path / "events.jsonl"
    args = ["replay", str(log), "--no-publish", "--events-out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output  # sorted in memory instead, and said
    assert "no temporary directory for the sorted runs" in result.output
    assert "the log is sorted in memory; set TMPDIR" in result.output
    assert len(out.read_bytes().splitlines()) == 1


def test_an_events_out_that_cannot_be_written_is_a_clear_error_about_it(tmp_path: Path) -> None:
    log = write(tmp_path / "access.log", [COMBINED.format(n=1, t=stamp(1), path="/")])
    out = tmp_path / "access.log" / "events.jsonl"  # under a file: no such directory
    result = CliRunner().invoke(
        main, ["replay", str(log), "--no-publish", "--events-out", str(out)]
    )
    assert result.exit_code == 1, result.output
    assert "replay stopped: [Errno 17] File exists" in result.output
    assert "$TMPDIR" not in result.output  # the review: not a temporary directory's fault


@pytest.mark.parametrize(
    ("name", "extra"),
    [("combined", ""), ("COMBINED", ""), (" nginx-main ", ' "-"'), ("nginx_main", ' "-"')],
)
def test_log_format_takes_a_known_formats_name(tmp_path: Path, name: str, extra: str) -> None:
    # an operator writes --log-format combined; it was "the log format has no $variables"
    line = COMBINED.format(n=1, t=stamp(1), path="/") + extra
    log = write(tmp_path / "access.log", [line])
    result = CliRunner().invoke(main, ["replay", str(log), "--no-publish", "--log-format", name])
    assert result.exit_code == 0, result.output
    assert "1 lines, 1 events, 0 unparsable" in result.output
