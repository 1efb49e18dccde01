"""`scrapeguard models` without a broker: list --offline and evaluate on a file."""

from pathlib import Path

import orjson
from click.testing import CliRunner

from stream.cli import main


def test_models_list_offline_shows_entry_point_models() -> None:
    result = CliRunner().invoke(main, ["models", "list", "--offline", "--json"])
    assert result.exit_code == 0, result.output
    rows = {m["name"]: m for m in orjson.loads(result.output)["models"]}
    assert set(rows) >= {"ensemble", "hst", "ocsvm"}  # ocsvm comes through the entry point
    assert rows["ensemble"]["role"] == "live" and rows["ocsvm"]["params"]["nu"] == 0.1


def test_offline_evaluation_known_answer(tmp_path: Path) -> None:
    runner = CliRunner()
    events, labels = tmp_path / "ev.jsonl", tmp_path / "labels.txt"
    sim = runner.invoke(
        main,
        [
            "simulate",
            "--actors",
            "30",
            "--hours",
            "1",
            "--seed",
            "7",
            "--mix",
            "human=0.8,bulk_scraper=0.2",
            "--no-publish",
            "--events-out",
            str(events),
            "--labels",
            str(labels),
        ],
    )
    assert sim.exit_code == 0, sim.output
    out = runner.invoke(
        main,
        [
            "models",
            "evaluate",
            "hst",
            "--events",
            str(events),
            "--labels",
            str(labels),
            "--out",
            str(tmp_path / "rep"),
        ],
    )
    assert out.exit_code == 0, out.output
    # every bulk scraper is caught by the policy and no person is: a known answer
    assert "whole policy (rules + score): precision 1.000, recall 1.000" in out.output
    assert "ROC AUC bots vs people, all " in out.output
    assert "ROC AUC among the " in out.output
    assert "lift over rules_only: bot recall " in out.output
    assert (tmp_path / "rep" / "report.html").exists()
    report = orjson.loads((tmp_path / "rep" / "report.json").read_bytes())
    assert report["summary"]["model"]["name"] == "hst"


def test_bad_params_are_a_clear_error(tmp_path: Path) -> None:
    f = tmp_path / "x.jsonl"
    f.write_text("")
    (tmp_path / "l.txt").write_text("a human\n")
    out = CliRunner().invoke(
        main,
        [
            "models",
            "evaluate",
            "hst",
            "--params",
            '{"n_trees": "x"}',
            "--events",
            str(f),
            "--labels",
            str(tmp_path / "l.txt"),
        ],
    )
    assert out.exit_code == 1 and "must be int" in out.output


def test_an_unknown_withheld_feature_is_a_clear_error(tmp_path: Path) -> None:
    f = tmp_path / "x.jsonl"
    f.write_text("")
    (tmp_path / "l.txt").write_text("a human\n")
    out = CliRunner().invoke(
        main,
        ["models", "evaluate", "ensemble", "--events", str(f), "--labels",
         str(tmp_path / "l.txt"), "--withhold", "automation_ua", "--withhold", "user_agent"],
    )  # fmt: skip
    assert out.exit_code == 2
    assert "--withhold" in out.output and "no feature named user_agent" in out.output
