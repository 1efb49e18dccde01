"""The first-action target over several windows (stream.harness.window_sweep)."""

from __future__ import annotations

from stream.harness.evaluation import FIRST_ACTION_TARGET_S, LabelRow, meets_target
from stream.harness.window_sweep import Window, WindowResult, span, summarise, table


def row(label: str, kind: str, actors: int, acted: int, median_all_s: float | None) -> LabelRow:
    within = acted if median_all_s is not None and median_all_s <= FIRST_ACTION_TARGET_S else 0
    return LabelRow(
        label, kind, actors, acted, acted, 0, None, None, None, None,
        within_target=within, first_action_median_all_s=median_all_s,
    )  # fmt: skip


def test_the_target_is_met_at_30_minutes_and_never_by_a_missed_middle() -> None:
    assert meets_target(row("headless", "bot", 3, 3, FIRST_ACTION_TARGET_S))
    assert not meets_target(row("headless", "bot", 3, 3, FIRST_ACTION_TARGET_S + 1))
    assert not meets_target(row("headless", "bot", 3, 1, None))


def test_summary_counts_the_windows_that_met_the_target_per_label() -> None:
    results = [
        WindowResult(
            Window(13, 1e9),
            [
                row("headless", "bot", 3, 3, 1200.0),
                row("visitor_bot", "bot", 2, 0, None),
                row("human", "person", 40, 0, None),
                row("browser_bot", "bot", 0, 0, None),  # none in this window
            ],
        ),
        WindowResult(
            Window(21, 1e9),
            [
                row("headless", "bot", 4, 2, 14_760.0),
                row("visitor_bot", "bot", 1, 1, 80.0),
                row("human", "person", 38, 1, None),
                row("browser_bot", "bot", 2, 2, 400.0),
            ],
        ),
    ]
    by = {s.label: s for s in summarise(results)}
    assert (by["headless"].met, by["headless"].windows) == (1, 2)
    assert by["headless"].medians_s == [1200.0, 14_760.0]
    assert (by["headless"].actors, by["headless"].acted, by["headless"].within_target) == (7, 5, 3)
    assert (by["visitor_bot"].met, by["visitor_bot"].windows) == (1, 2)
    assert (by["browser_bot"].met, by["browser_bot"].windows) == (1, 1)  # windows it was in
    assert (by["human"].actors, by["human"].acted) == (78, 1)
    text = table(list(by.values()))
    assert "| headless | 1 of 2 | 20.0m – 4.1h | 7 | 5 | 3 |" in text
    assert "| visitor_bot | 1 of 2 | 80s – never | 3 | 1 | 1 |" in text
    assert "| human | - | never | 78 | 1 | 0 |" in text
    # bots first: the target's rows
    assert text.index("| visitor_bot |") < text.index("| human |")
    assert by["human"].as_dict()["met"] is None and by["headless"].as_dict()["met"] == 1


def test_span_puts_never_last() -> None:
    assert span([None, 90.0, 600.0]) == "90s – never"
    assert span([600.0]) == "10.0m"
    assert span([None, None]) == "never"
