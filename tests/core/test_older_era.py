"""The era rules of stream/core/older_era.py, on plain numbers."""

from stream.core.older_era import ERA_GAP_S, OlderEra, era_floor

T = 1.8e9


def test_the_floor_is_the_slowest_of_the_era_most_are_in() -> None:
    assert era_floor([T + 60, T, T + 900]) == T
    # one partition far behind on its own (an event with an odd timestamp) is left out
    assert era_floor([T - 400 * 86400, T + 60, T, T + 900]) == T
    # a replay beside today's traffic: the replay's pace, however many are at today
    old = T - 3 * 365 * 86400
    assert era_floor([old + 300, old, T, old + 60, T + 5]) == old
    assert era_floor([old + 300, old, T, T + 60, T + 5, T + 9]) == old
    # nothing but lone partitions: the plain minimum
    assert era_floor([old, T]) == old


def test_within_a_day_everything_is_one_era() -> None:
    heads = [T, T + ERA_GAP_S / 2, T + ERA_GAP_S]
    assert era_floor(heads) == T
    assert era_floor([T]) == T


def test_older_era_keys_are_bounded_and_forgotten_with_their_state() -> None:
    era = OlderEra(lambda: 0.0, max_keys=3)
    for i in range(5):
        era.remember(f"k{i}", now=float(i))
    assert list(era.used) == ["k2", "k3", "k4"] and era.take_dropped() == 2
    era.remember("k2", 9.0)  # worked again: most recent now
    era.forget(["k3"])
    assert list(era.used) == ["k4", "k2"]
