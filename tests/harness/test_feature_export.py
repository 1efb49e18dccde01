"""Feature export: the vectors the worker scores, one row per actor per interval."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import orjson
from click.testing import CliRunner

from stream.cli import main
from stream.core.features import FEATURE_NAMES
from stream.core.partition_detector import Limits, PartitionDetector
from stream.core.policy_loader import parse_policy
from stream.harness.feature_export import FIXED_COLUMNS, ExportStats, export, feature_rows
from tests.helpers import T0, event, rec

START = T0 - T0 % 300  # on an interval boundary


class Recorder:
    """A model that keeps every vector it is asked to score."""

    def __init__(self) -> None:
        self.seen: list[dict[str, float]] = []

    def score_one(self, x: dict[str, float]) -> float:
        self.seen.append(dict(x))
        return 0.0

    def learn_one(self, x: dict[str, float]) -> None:
        pass


def traffic() -> list[dict[str, Any]]:
    """A scraper over three 5-minute intervals, a person in two, one bad event."""
    docs = [
        event(i, START + i * 9.0, account="bot", target_profile_id=i, user_agent="curl/8")
        for i in range(90)
    ]
    docs += [event(100 + i, START + 5 + i * 200.0, account="person") for i in range(3)]
    docs.append({"event_id": "x", "ts": START + 1})  # no identity: refused
    return sorted(docs, key=lambda d: d["ts"])


def test_one_row_per_actor_per_interval_as_the_worker_scores_it() -> None:
    docs = traffic()
    stats = ExportStats()
    rows = list(feature_rows(docs, 300.0, stats))
    assert stats.invalid == 1 and stats.events == len(docs)
    assert [(a, start - START, n) for a, start, _, n, _ in rows] == [
        ("account:bot", 0.0, 34),
        ("account:person", 0.0, 2),
        ("account:bot", 300.0, 33),
        ("account:person", 300.0, 1),
        ("account:bot", 600.0, 23),
    ]
    # the worker, fed one batch per interval, scores exactly these vectors
    recorder = Recorder()
    lenient = parse_policy(
        "[score]\nmin_requests_per_hour = 0\nmin_profiles_per_hour = 0\n"
        "[limits]\nprofiles_per_hour = {}\nprofiles_per_day = {}\nrequests_per_minute = {}"
    )
    det = PartitionDetector("requests", 0, lenient, recorder, "rec", Limits(), clock=lambda: T0)
    for k in range(3):
        batch = [d for d in docs if k * 300 <= d["ts"] - START < (k + 1) * 300 and "path" in d]
        det.process([rec(i, d) for i, d in enumerate(batch, k * 1000)])

    def key(x: dict[str, float]) -> list[tuple[str, float]]:
        return sorted(x.items())

    assert sorted(map(key, recorder.seen)) == sorted(key(x) for *_, x in rows)


def test_files_have_the_code_s_feature_names_labels_and_pseudonyms(tmp_path: Path) -> None:
    stats = export(
        traffic(),
        {"account:bot": "bulk_scraper", "account:person": "human"},
        tmp_path,
        name_actor=lambda a: a.upper(),
    )
    assert stats.rows == 5 and stats.actors == {"account:bot", "account:person"}
    with open(tmp_path / "features.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert list(table[0]) == [*FIXED_COLUMNS, *FEATURE_NAMES]
    assert [(r["actor"], r["label"], r["bot"]) for r in table[:2]] == [
        ("ACCOUNT:BOT", "bulk_scraper", "1"),
        ("ACCOUNT:PERSON", "human", "0"),
    ]
    assert table[0]["automation_ua"] == "1.0"
    lines = [orjson.loads(x) for x in (tmp_path / "features.jsonl").read_bytes().splitlines()]
    assert len(lines) == 5 and lines[0]["requests_per_hour"] == float(table[0]["requests_per_hour"])


def test_cli_export_with_labels(tmp_path: Path) -> None:
    events, labels = tmp_path / "ev.jsonl", tmp_path / "labels.txt"
    events.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in traffic()))
    labels.write_text("account:bot bulk_scraper\n")
    result = CliRunner().invoke(
        main,
        ["features", "export", str(events), "--labels", str(labels), "--out", str(tmp_path / "f")],
        env={"SCRAPEGUARD_PSEUDONYM_KEY": "k"},
    )
    assert result.exit_code == 0, result.output
    assert "5 rows for 2 actors (1 labelled) from 94 events (1 refused by the contract" in (
        result.output
    )
    text = (tmp_path / "f" / "features.csv").read_text()
    assert "account:bot" not in text and "account:p_" in text  # pseudonymised
