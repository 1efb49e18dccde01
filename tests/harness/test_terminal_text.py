"""Text from outside quoted back to a terminal (:mod:`stream.harness.terminal_text`)."""

import pytest

from stream.harness.labels import resolve
from stream.harness.terminal_text import shown


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("GET /profiles/1 HTTP/1.1", "GET /profiles/1 HTTP/1.1"),
        ("caf\u00e9 \u65e5\u672c", "caf\u00e9 \u65e5\u672c"),  # letters of any script stay
        ("\x1b]0;owned\x07\x1b[2J", "\\x1b]0;owned\\x07\\x1b[2J"),  # C0 controls
        ("\x9b1m\x7f", "\\x9b1m\\x7f"),  # C1 and DEL
        ("admin\u202egnp.exe", "admin\\u202egnp.exe"),  # a bidirectional override
        ("a\u2066b\u2069\u200e\u200f\u061c", "a\\u2066b\\u2069\\u200e\\u200f\\u061c"),
        ("one\u2028two\u2029", "one\\u2028two\\u2029"),  # line and paragraph separators
        ("zero\u200bwidth\ufeff", "zero\\u200bwidth\\ufeff"),
        ("\U000e0041 tag", "\\U000e0041 tag"),  # a tag character (format)
        ("C:\\x1b", "C:\\\\x1b"),  # a written "\x1b" does not pass for an escaped one
        ("a\u3164b\u115f\u034f\ufe0f", "a\\u3164b\\u115f\\u034f\\ufe0f"),  # ignorables
        ("\ue000\U000f0000\u0378", "\\ue000\\U000f0000\\u0378"),  # private use, unassigned
    ],
)
def test_what_a_terminal_would_act_on_is_written_out(text: str, written: str) -> None:
    assert shown(text) == written


def test_at_most_limit_characters_are_shown() -> None:
    assert shown("x" * 500) == "x" * 200 and shown("\x1b" * 10, limit=3) == "\\x1b" * 3


def test_ids_that_matched_nothing_are_listed_escaped() -> None:
    res = resolve({"evil\x1b[2J": "human"}, {"session:a"})
    assert "evil\\x1b[2J" in res.summary() and "\x1b" not in res.summary()
