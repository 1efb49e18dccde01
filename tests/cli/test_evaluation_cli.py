"""`simulate --end-ts` is deterministic; `models evaluate` reports AUC both ways, the
controls and their lift, splits, and labels given as bare dataset ids."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from stream.cli import main

END = "2024-05-01T12:00:00Z"


def _simulate(out: Path, *extra: str, hashseed: str = "0") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "stream",
            "simulate",
            "--actors",
            "60",
            "--hours",
            "2",
            "--seed",
            "11",
            "--no-publish",
            "--events-out",
            str(out / "events.jsonl"),
            "--labels",
            str(out / "labels.txt"),
            *extra,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env={**os.environ, "PYTHONHASHSEED": hashseed},  # a set's order may not matter
    )


def test_simulate_with_the_same_seed_and_end_is_byte_identical(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for d in (a, b, c):
        d.mkdir()
    _simulate(a, "--end-ts", END, hashseed="1")
    _simulate(b, "--end-ts", "1714564800", hashseed="2")  # the same instant, as seconds
    _simulate(c, "--end-ts", "1714568400")  # an hour later
    assert (a / "events.jsonl").read_bytes() == (b / "events.jsonl").read_bytes()
    assert (a / "labels.txt").read_bytes() == (b / "labels.txt").read_bytes()
    assert (a / "events.jsonl").stat().st_size > 10_000
    assert (a / "events.jsonl").read_bytes() != (c / "events.jsonl").read_bytes()


def test_end_ts_is_checked_and_documented() -> None:
    bad = CliRunner().invoke(main, ["simulate", "--end-ts", "yesterday", "--no-publish"])
    assert bad.exit_code == 2 and "neither epoch seconds nor ISO-8601" in bad.output
    for command in ("simulate", "stress"):
        text = CliRunner().invoke(main, [command, "--help"]).output
        assert "--end-ts" in text and "default: now" in text


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    result = CliRunner().invoke(
        main,
        [
            "simulate",
            "--actors",
            "60",
            "--hours",
            "2",
            "--seed",
            "5",
            "--mix",
            "human=0.6,bulk_scraper=0.1,low_and_slow=0.1,headless=0.2",
            "--end-ts",
            END,
            "--no-publish",
            "--events-out",
            str(out / "events.jsonl"),
            "--labels",
            str(out / "labels.txt"),
        ],
    )
    assert result.exit_code == 0, result.output
    return out


def _evaluate(sim: Path, out: Path, labels: Path, *extra: str) -> dict[str, object]:
    result = CliRunner().invoke(
        main,
        [
            "models",
            "evaluate",
            "ensemble",
            "--events",
            str(sim / "events.jsonl"),
            "--labels",
            str(labels),
            "--out",
            str(out),
            "--json",
            *extra,
        ],
    )
    assert result.exit_code == 0, result.output
    doc = orjson.loads(result.output)
    assert isinstance(doc, dict)
    return doc


def _unit(v: object) -> bool:
    return isinstance(v, float) and 0.0 <= v <= 1.0


def test_models_evaluate_reports_auc_both_ways_and_the_controls(sim: Path, tmp_path: Path) -> None:
    doc = _evaluate(sim, tmp_path / "rep", sim / "labels.txt")
    rank = doc["ranking"]
    assert isinstance(rank, dict)
    n = rank["bots"] + rank["people"]
    assert rank["unscored"] == n - rank["scored_bots"] - rank["scored_people"]
    assert doc["labelled"] >= n and doc["scored"] <= doc["labelled"]
    assert _unit(doc["roc_auc"]) and _unit(doc["roc_auc_scored"])
    assert {lr["label"] for lr in rank["per_label"]} == {"bulk_scraper", "low_and_slow", "headless"}
    assert _unit(rank["at_fpr"]["recall"]) and rank["at_fpr"]["target_fpr"] == 0.01
    controls = doc["controls"]
    assert isinstance(controls, dict)
    arms = {a["name"]: a for a in controls["arms"]}
    assert set(arms) == {"model", "rules_only", "constant"}
    assert all(a["how"] == "offline run" and a["measured"] for a in arms.values())
    assert arms["constant"]["auc_scored"] == 0.5  # one score for everyone: no ranking
    lift = controls["lift"]["rules_only"]
    assert lift["bot_recall"] == pytest.approx(
        arms["model"]["bot_recall"] - arms["rules_only"]["bot_recall"]
    )
    assert (
        lift["people_acted"] == arms["model"]["people_acted"] - arms["rules_only"]["people_acted"]
    )
    report = orjson.loads((tmp_path / "rep" / "report.json").read_bytes())
    assert report["controls"]["lift"]["constant"]["bot_recall"] is not None
    # the default policy has no allowlist for the simulated crawler: none in this mix
    assert doc["labels_resolution"]["unmatched"] + doc["labels_resolution"]["actors"] == len(
        (sim / "labels.txt").read_text().splitlines()
    )


@pytest.fixture(scope="module")
def full(sim: Path) -> dict[str, object]:
    """No split, no controls: the figures every other run is compared with."""
    return _evaluate(sim, sim / "full", sim / "labels.txt", "--no-controls")


@pytest.mark.parametrize("kind", ["time", "actor"])
def test_models_evaluate_splits(
    sim: Path, full: dict[str, object], tmp_path: Path, kind: str
) -> None:
    doc = _evaluate(
        sim,
        tmp_path / kind,
        sim / "labels.txt",
        "--split",
        kind,
        "--test-share",
        "0.4",
        "--no-controls",
    )
    split = doc["split"]
    assert isinstance(split, dict) and split["kind"] == kind and split["test_share"] == 0.4
    assert doc["controls"] is None
    assert split["labelled_test_actors"] == doc["labelled"]
    assert split["labelled_test_actors"] + split["labelled_train_actors"] == full["labelled"]
    assert 0 < doc["labelled"] < full["labelled"]  # type: ignore[operator]
    if kind == "actor":
        assert split["shift_s"] % 86400 == 0 and split["shift_s"] > 0
    report = orjson.loads((tmp_path / kind / "report.json").read_bytes())
    assert len(report["actors"]) == doc["labelled"]  # every figure on the test actors only


def test_models_evaluate_with_bare_dataset_ids(
    sim: Path, full: dict[str, object], tmp_path: Path
) -> None:
    # a dataset's labels: `id,label` with a header, bare ids, and ids that match nothing
    rows = [line.split() for line in (sim / "labels.txt").read_text().splitlines()]
    bare = [(actor.split(":", 1)[1], label) for actor, label in rows]
    csv = tmp_path / "dataset.csv"
    csv.write_text(
        "session_id,label\nghost-1,human\nghost-2,bulk_scraper\n"
        + "".join(f"{i},{lab}\n" for i, lab in bare)
    )
    args = ["--events", str(sim / "events.jsonl"), "--labels", str(csv), "--no-controls"]
    result = CliRunner().invoke(
        main, ["models", "evaluate", "ensemble", *args, "--out", str(tmp_path / "r")]
    )
    assert result.exit_code == 0, result.output
    assert "matched no actor with events in the run: ghost-1, ghost-2" in result.output
    report = orjson.loads((tmp_path / "r" / "report.json").read_bytes())
    res = report["labels_resolution"]
    assert res["given"] == len(bare) + 2
    assert res["prefixed"] == res["actors"] == full["labelled"]
    assert {"ghost-1", "ghost-2"} <= set(res["unmatched_ids"])
    assert report["summary"]["roc_auc"] == full["roc_auc"]  # the same actors, the same AUC


def test_models_evaluate_reads_several_label_files_as_one(
    sim: Path, full: dict[str, object], tmp_path: Path
) -> None:
    # a dataset's annotations split in two files (train, test): --labels twice
    rows = [line.split() for line in (sim / "labels.txt").read_text().splitlines()]
    bare = [f"{actor.split(':', 1)[1]} {label}\n" for actor, label in rows]
    train, test = tmp_path / "train", tmp_path / "test"
    train.write_text("".join(bare[::2]))
    test.write_text("".join(bare[1::2]))
    args = ["--events", str(sim / "events.jsonl"), "--labels", str(train), "--labels", str(test)]
    result = CliRunner().invoke(
        main, ["models", "evaluate", "ensemble", *args, "--no-controls", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    report = orjson.loads((tmp_path / "report.json").read_bytes())
    assert report["labels_resolution"]["given"] == len(bare)
    assert report["summary"]["roc_auc"] == full["roc_auc"]
