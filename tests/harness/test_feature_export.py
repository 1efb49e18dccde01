"""Feature export: the vectors the worker scores, one row per actor per interval."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import orjson
from click.testing import CliRunner

from stream.cli import main
from stream.core.batch import Limits
from stream.core.features import FEATURE_NAMES
from stream.core.partition_detector import PartitionDetector
from stream.core.policy_loader import parse_policy
from stream.harness.feature_export import FIXED_COLUMNS, ExportStats, export, feature_rows
from tests.helpers import T0, event, rec

START = T0 - T0 % 300  # on an interval boundary


class Recorder:
    """A model that keeps every vector it is asked to score."""

    def __init__(self) -> None:
        self.seen: list[dict[str, float]] = []

    def score_one(self, x: dict[str, float]) -> float | None:
        self.seen.append(dict(x))
        return None

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


LENIENT = (
    "[score]\nmin_requests_per_hour = 0\nmin_profiles_per_hour = 0\nmin_events = 3\n"
    "interval_s = 300\n"
    "[limits]\nprofiles_per_hour = {}\nprofiles_per_day = {}\nrequests_per_minute = {}"
)


def test_one_row_per_actor_per_scoring_interval_as_the_worker_scores_it() -> None:
    docs = traffic()
    stats = ExportStats()
    policy = parse_policy(LENIENT)
    rows = list(feature_rows(docs, stats, policy))
    assert stats.invalid == 1 and stats.events == len(docs)
    # the bot (an event every 9 s) at its 3rd event, then at the first event 300 s or more
    # of its event time later; the person (3 events) at its third
    bot = [ts - START for a, ts, _ in rows if a == "account:bot"]
    assert bot == [18.0, 324.0, 630.0]
    assert [ts - START for a, ts, _ in rows if a == "account:person"] == [405.0]
    # the worker, fed the same events, scores these vectors (and, in between, the bot
    # again at its 6th, 12th, 24th and 48th event: scores as events double are not
    # training rows)
    recorder = Recorder()
    # the worker's clock is past every event (events beyond its clock are ts_in_future)
    det = PartitionDetector(
        "requests", 0, policy, recorder, "rec", Limits(), clock=lambda: START + 3600
    )
    batch = [d for d in docs if "path" in d]
    det.process([rec(i, d) for i, d in enumerate(batch)])

    def key(x: dict[str, float]) -> list[tuple[str, float]]:
        return sorted(x.items())

    seen = [key(x) for x in recorder.seen]
    assert all(key(x) in seen for *_, x in rows)
    assert len(seen) == len(rows) + 4


def test_files_have_the_code_s_feature_names_labels_and_pseudonyms(tmp_path: Path) -> None:
    stats = export(
        traffic(),
        {"account:bot": "bulk_scraper", "account:person": "human"},
        tmp_path,
        policy=parse_policy(LENIENT),
        name_actor=lambda a: a.upper(),
    )
    assert stats.rows == 4 and stats.actors == {"account:bot", "account:person"}
    with open(tmp_path / "features.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert list(table[0]) == [*FIXED_COLUMNS, *FEATURE_NAMES]
    assert {(r["actor"], r["label"], r["bot"]) for r in table} == {
        ("ACCOUNT:BOT", "bulk_scraper", "1"),
        ("ACCOUNT:PERSON", "human", "0"),
    }
    assert table[0]["automation_ua"] == "1.0"
    lines = [orjson.loads(x) for x in (tmp_path / "features.jsonl").read_bytes().splitlines()]
    assert len(lines) == 4 and lines[0]["requests_per_hour"] == float(table[0]["requests_per_hour"])


def test_cli_export_with_labels(tmp_path: Path) -> None:
    events, labels = tmp_path / "ev.jsonl", tmp_path / "labels.txt"
    events.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in traffic()))
    labels.write_text("account:bot bulk_scraper\n")
    policy = tmp_path / "policy.toml"
    policy.write_text(LENIENT)
    out = str(tmp_path / "f")
    result = CliRunner().invoke(
        main,
        [
            "features",
            "export",
            str(events),
            "--labels",
            str(labels),
            "--out",
            out,
            "--policy",
            str(policy),
        ],
        env={"SCRAPEGUARD_PSEUDONYM_KEY": "k"},
    )
    assert result.exit_code == 0, result.output
    assert "4 rows for 2 actors (1 labelled) from 94 events (1 dead-lettered)" in result.output
    text = (tmp_path / "f" / "features.csv").read_text()
    assert "account:bot" not in text and "account:p_" in text  # pseudonymised
