"""`scrapeguard label`: arguments and label files are checked before anything is sent."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from stream.cli import main
from stream.cli.label_cmd import read_label_file

UNREACHABLE = "kafka://127.0.0.1:1"  # never reached: every case below fails before


def test_a_label_file_with_a_header_comments_and_csv(tmp_path: Path) -> None:
    f = tmp_path / "labels.csv"
    f.write_text("actor,label\n# case 17\naccount:42,bot\n ip:2001:DB8::1  human \n\n")
    assert read_label_file(f, "verdict") == [
        ("account:42", "verdict_bot"),
        ("ip:2001:db8::1", "verdict_human"),
    ]
    assert read_label_file(f, "appeal") == [
        ("account:42", "appeal_rejected"),
        ("ip:2001:db8::1", "appeal_upheld"),
    ]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("account:42 bot extra\n", "labels.txt:1: expected ACTOR LABEL"),
        ("account:42 bot\nnobody human\n", "labels.txt:2: 'nobody' is not an actor"),
        ("account:42 maybe\n", "labels.txt:1: 'maybe' is not a label for --as verdict"),
        ("range:192.0.2.0/24 bot\n", "labels.txt:1: label one actor, not a range"),
        ("# nothing\n", "no labels in the file"),
        ("account:42 bot\naccount:42 human\n", "labels.txt:2: account:42 is labelled on line 1"),
    ],
)
def test_a_bad_label_file_names_file_and_line(tmp_path: Path, text: str, says: str) -> None:
    f = tmp_path / "labels.txt"
    f.write_text(text)
    with pytest.raises(click.BadParameter, match=says):
        read_label_file(f, "verdict")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["account:42", "bot"], "Missing option '--reason'"),
        (["account:42", "abandoned", "--reason", "r"], "'abandoned' is not a label for --as"),
        (["account:42", "--reason", "r"], "give ACTOR and LABEL"),
        (["nobody", "bot", "--reason", "r"], "'nobody' is not an actor"),
        (["account:42", "bot", "--reason", "  "], "say why"),
        (["account:42", "robot", "--reason", "r"], "'robot' is not one of"),
        (["account:42", "bot", "--reason", "x" * 501], "reason longer than 500 characters"),
        (["account:42", "bot", "--reason", "a\nb"], "reason contains control characters"),
        (["account:42", "bot", "--reason", "r", "--by", "b" * 101], "by longer than 100"),
        (["account:42", "bot", "--reason", "r", "--decision-id", "d" * 201], "decision_id longer"),
    ],
)
def test_bad_arguments_are_clear_errors(args: list[str], says: str) -> None:
    result = CliRunner().invoke(main, ["label", *args, "--broker", UNREACHABLE])
    assert result.exit_code == 2, result.output
    assert says in result.output
