"""Which of a partition's actors stay decoded: the hot tier's segmented least-recently-used
order (:class:`stream.core.actor_table.ActorTable`)."""

from stream.core.actor_table import ActorTable
from tests.helpers import T0
from tests.helpers import actor_state as state


def test_least_recently_used_actors_are_compressed_first() -> None:
    table = ActorTable(hot_max=4)  # probation 2, protected 2
    for i, a in enumerate("abc"):
        table.put(a, state(T0 + i))
    assert table.get("a") is not None  # a is now the most recently used (same batch)
    assert table.trim() == 1  # probation keeps 2: b, the least recently used, is compressed
    assert table.hot == 2 and table.protected == 0 and len(table) == 3
    assert "b" in table and list(table) == ["c", "a", "b"]  # decoded ones first, then b
    b = table.get("b")  # back in a later batch, decoded again: protected
    assert b is not None and b.last_ts == T0 + 1 + 2
    assert table.get("a") is not None  # back in a later batch while decoded: protected
    assert table.trim() == 0 and list(table) == ["b", "a", "c"] and table.protected == 2


def test_an_actor_back_through_a_flood_of_new_ones_is_decoded_once_more_at_most() -> None:
    table = ActorTable(hot_max=16)  # probation 8, protected 8
    n = 0
    for batch in range(10):
        if table.get("real") is None:
            assert batch == 0
            table.put("real", state(T0))
        for _ in range(10):  # more new actors after it than probation holds
            table.put(f"new{n}", state(T0 + n))
            n += 1
        table.trim()
        # compressed at the first trim; decoded once when back, and protected since
        first = next(iter(table))
        assert (table.protected, first) == ((0, "new2") if batch == 0 else (1, "real"))


def test_actors_that_come_back_stay_decoded_through_a_flood_of_one_off_actors() -> None:
    # a plain least-recently-used order of 16 would compress the returning four: 30
    # one-off actors pass between two of their visits
    table = ActorTable(hot_max=16)  # probation 8, protected 8
    returning = ["r0", "r1", "r2", "r3"]
    for a in returning:
        table.put(a, state(T0))
    table.trim()
    n = 0
    for batch in range(1, 13):
        if batch % 3 == 1:
            for a in returning:
                assert table.get(a) is not None
        if batch > 1:
            assert list(table)[:4] == returning  # decoded, in the protected segment
        for _ in range(10):
            table.put(f"once{n}", state(T0 + n))
            n += 1
        table.trim()
        assert table.hot <= 16
    assert table.protected == 4 and len(table) == 4 + n
    assert table.hot == 12  # of the 120 one-off actors, probation's 8 are decoded


def test_the_protected_segment_hands_its_least_recently_used_back_to_probation() -> None:
    table = ActorTable(hot_max=4)  # probation 2, protected 2
    last = None
    for a in "abcd":  # one batch each: the last one's actor comes back, a new one arrives
        if last is not None:
            assert table.get(last) is not None
        table.put(a, state(T0))
        table.trim()
        last = a
    # a, b and c came back, protected holds two: a, the least recently used, waits on
    # probation, behind d
    assert table.protected == 2 and table.hot == 4 and list(table) == ["b", "c", "d", "a"]
    table.put("e", state(T0))
    assert table.trim() == 1  # probation is full: d, its least recently used, is compressed
    assert list(table) == ["b", "c", "a", "e", "d"] and table.hot == 4
