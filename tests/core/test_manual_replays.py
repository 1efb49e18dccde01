"""Manual decisions appended again (:mod:`stream.core.manual_replays`): a copy of an
operator's signed record is refused, the record itself read again is not."""

from __future__ import annotations

import pytest

from stream.core.manual_replays import ManualReplays
from stream.core.operator_records import ManualDecision
from tests.helpers import T0

WINDOW_S, AHEAD_S = 600.0, 300.0


def manual(mid: str, action: str, ts: float, actor: str = "account:bot") -> ManualDecision:
    return ManualDecision(mid, actor, "add", action, 3600.0, "case 9", "alice", ts)


def test_a_copy_within_the_window_is_refused_and_the_record_read_again_is_not() -> None:
    # (review of this stop) an operator allows, then blocks a minute later; a writer of the
    # topic appends the allow again within the window, to lift the block
    replays = ManualReplays(WINDOW_S, AHEAD_S)
    allow, block = manual("m1", "allow", T0 + 100), manual("m2", "block", T0 + 160)
    replays.check(allow, T0 + 100.2, partition=3, offset=10)
    replays.check(block, T0 + 160.2, partition=3, offset=11)
    with pytest.raises(ValueError, match="read before at another offset"):
        replays.check(allow, T0 + 400, partition=3, offset=12)
    # the same records read again from the last commit (a rebalance) are the records
    replays.check(allow, T0 + 100.2, partition=3, offset=10)
    replays.check(block, T0 + 160.2, partition=3, offset=11)


def test_a_record_made_before_the_newest_of_its_actor_is_refused() -> None:
    # a copy under a new id needs the key; but an operator's older record of the actor,
    # appended after a newer one, is refused by its time
    replays = ManualReplays(WINDOW_S, AHEAD_S)
    replays.check(manual("m2", "block", T0 + 160), T0 + 160.2, partition=0, offset=5)
    with pytest.raises(ValueError, match="made before the one read before it"):
        replays.check(manual("m1", "allow", T0 + 100), T0 + 400, partition=0, offset=6)
    # other actors, and later records of this one, go on
    replays.check(manual("m3", "allow", T0 + 100, actor="account:other"), T0 + 400, 0, 7)
    replays.check(manual("m4", "allow", T0 + 420), T0 + 420.1, partition=0, offset=8)


def test_a_record_out_of_the_window_is_refused_by_the_window() -> None:
    replays = ManualReplays(WINDOW_S, AHEAD_S)
    with pytest.raises(ValueError, match="appended again, or a clock that is off"):
        replays.check(manual("m1", "allow", T0), T0 + WINDOW_S + 1, partition=0, offset=1)


def test_the_memory_forgets_what_the_window_refuses_anyway() -> None:
    replays = ManualReplays(WINDOW_S, AHEAD_S)
    for i in range(1000):
        ts = T0 + i * 60.0
        replays.check(manual(f"m{i}", "block", ts, actor=f"account:a{i}"), ts, 0, i)
    # two windows of records at one a minute, not a thousand
    assert len(replays) <= 2 * WINDOW_S / 60 + 1
