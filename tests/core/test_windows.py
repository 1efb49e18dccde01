import random
from array import array

import pytest

from stream.core.windows import DistinctSpec, SlidingCounter, SlidingDistinct
from tests.helpers import T0

HOUR = DistinctSpec(slots=60, slot_s=60.0, exact_max=32, bits=256)


def test_counter_slides_with_one_slot_resolution() -> None:
    c = SlidingCounter(60, 60.0)
    for minute in range(60):
        c.add(T0 + minute * 60, (1,))
    assert c.total() == 60
    c.add(T0 + 60 * 60, (1,))  # minute 60: minute 0 leaves the hour window
    assert c.total() == 60
    c.add(T0 + 60 * 60 + 30 * 60, (1,))  # half an hour later: 30 more minutes gone
    assert c.total() == 60 - 30 + 1


def test_counter_counts_out_of_order_within_window_and_refuses_older() -> None:
    c = SlidingCounter(60, 60.0)
    c.add(T0 + 3000, (1,))
    assert c.add(T0 + 10, (1,))  # 50 minutes late: still in the hour window
    assert c.total() == 2
    assert not c.add(T0 + 3000 - 3600, (1,))  # an hour late: outside
    assert c.total() == 2


def test_counter_idle_gap_expires_everything() -> None:
    c = SlidingCounter(60, 60.0, channels=2)
    c.add(T0, (5, 2))
    c.add(T0 + 7200, (1, 0))
    assert (c.total(0), c.total(1)) == (1, 0)


def test_counter_saturates_instead_of_wrapping() -> None:
    c = SlidingCounter(2, 60.0, typecode="B")
    c.add(T0, (200,))
    c.add(T0, (200,))
    assert c.current() == 255 and c.total() == 255


def test_counter_current_slot() -> None:
    c = SlidingCounter(60, 60.0)
    for i in range(7):
        c.add(T0 + i, (1,))
    c.add(T0 + 61, (1,))
    assert c.current() == 1 and c.total() == 8


def test_distinct_exact_counts_revisits_once() -> None:
    d = SlidingDistinct(HOUR)
    for i in range(20):
        d.add(i % 10, T0 + i)
    assert d.exact and d.estimate() == 10


def test_distinct_expires_members_by_last_visit() -> None:
    d = SlidingDistinct(HOUR)
    d.add(1, T0)
    d.add(2, T0)
    d.add(1, T0 + 1800)  # 1 revisited half an hour later
    d.add(3, T0 + 3600 + 1)  # an hour after the start: 2 expired, 1 still in
    assert d.estimate() == 2


def test_distinct_out_of_order_counts_and_too_old_refused() -> None:
    d = SlidingDistinct(HOUR)
    d.add(1, T0 + 1000)
    assert d.add(2, T0 + 10)
    assert d.estimate() == 2
    assert not d.add(3, T0 + 1000 - 3600)
    assert d.estimate() == 2


@pytest.mark.parametrize("n", [100, 300, 600])
def test_distinct_sketch_estimate_is_close(n: int) -> None:
    rng = random.Random(n)
    d = SlidingDistinct(HOUR)
    for i in range(n):
        d.add(rng.getrandbits(32), T0 + i * (3000 / n))
    assert not d.exact
    assert abs(d.estimate() - n) / n < 0.12


def test_distinct_memory_is_bounded_for_100k_profiles_a_day() -> None:
    rng = random.Random(1)
    day = DistinctSpec(slots=24, slot_s=3600.0, exact_max=64, bits=512)
    d = SlidingDistinct(day)
    for i in range(100_000):
        d.add(rng.getrandbits(32), T0 + i * 0.86)
    assert d.sketch is not None and len(d.sketch) == 512
    assert d.keys is None
    assert d.estimate() >= 3000  # saturated: far above every limit, never wraps to small


def test_distinct_sketch_slides_and_sweeps() -> None:
    rng = random.Random(2)
    d = SlidingDistinct(HOUR)
    for i in range(500):
        d.add(rng.getrandbits(32), T0 + i)
    assert d.estimate() > 400
    # three hours later only the new items count; old stamps were swept, none alias
    for i in range(50):
        d.add(rng.getrandbits(32), T0 + 3 * 3600 + i)
    assert abs(d.estimate() - 50) <= 5
    for hours in range(4, 40):  # long-running actor: stamps never alias after wrap-around
        d.add(rng.getrandbits(32), T0 + hours * 3600)
    assert d.estimate() <= 2


@pytest.mark.parametrize("n", [10, 100])
def test_distinct_dump_and_load_round_trip(n: int) -> None:
    d = SlidingDistinct(HOUR)
    for i in range(n):
        d.add(i * 7919, T0 + i)
    e = SlidingDistinct.load(HOUR, *d.dump())
    assert e.estimate() == d.estimate()
    e.add(1, T0 + 200)
    d.add(1, T0 + 200)
    assert e.estimate() == d.estimate()


class _Reference:
    """A sliding counter the obvious way: capped counts per slot, totals over the window."""

    def __init__(self, slots: int, slot_s: float, channels: int, cap: int) -> None:
        self.slots, self.slot_s, self.channels, self.cap = slots, slot_s, channels, cap
        self.cells: dict[int, list[int]] = {}
        self.head = -1

    def add(self, ts: float, incs: tuple[int, ...]) -> bool:
        slot = int(ts // self.slot_s)
        if slot <= self.head - self.slots:
            return False
        self.head = max(self.head, slot)
        cell = self.cells.setdefault(slot, [0] * self.channels)
        for c, n in enumerate(incs):
            cell[c] = min(self.cap, cell[c] + n)
        return True

    def totals(self) -> list[int]:
        live = [v for k, v in self.cells.items() if k > self.head - self.slots]
        return [sum(v[c] for v in live) for c in range(self.channels)]


@pytest.mark.parametrize("seed", range(5))
def test_counter_fast_paths_count_like_add(seed: int) -> None:
    """``add_request``/``add_one`` give the same rings and totals as the general ``add``,
    and all of them the totals of a plain per-slot count (expiry cell by cell for short
    steps, by runs for longer ones, a reset for idle gaps), in and out of order, with
    saturation."""
    rng = random.Random(seed)
    general = SlidingCounter(60, 60.0, channels=3, typecode="B")  # small cap: saturates
    fast = SlidingCounter(60, 60.0, channels=3, typecode="B")
    day, day_fast = SlidingCounter(24, 3600.0), SlidingCounter(24, 3600.0)
    ref, ref_day = _Reference(60, 60.0, 3, 255), _Reference(24, 3600.0, 1, 65535)
    ts = T0
    saturated = False
    for i in range(5000):
        if i % 1000 < 300:  # a burst: past the cap of a slot
            ts += 0.1
        elif rng.random() < 0.05:  # out of order: within the window, or older than it
            ts += rng.choice([-90.0, -4000.0])
        else:
            ts += rng.choice([0.0, 1.0, 30.0, 61.0, 125.0, 400.0, 5000.0, 30000.0])
        view, error = rng.random() < 0.5, rng.random() < 0.2
        took = general.add(ts, (1, int(view), int(error)))
        assert ref.add(ts, (1, int(view), int(error))) is took
        assert fast.add_request(ts, view, error) is took
        assert ref_day.add(ts, (1,)) is day.add(ts, (1,)) is day_fast.add_one(ts)
        assert general.totals == ref.totals() and day.totals == ref_day.totals()
        assert fast.ring == general.ring and fast.totals == general.totals
        assert fast.head == general.head
        assert day_fast.ring == day.ring and day_fast.totals == day.totals
        saturated = saturated or max(general.ring) == 255
    assert saturated  # a burst filled a slot past the cap


@pytest.mark.parametrize("seed", range(5))
def test_sparse_counter_counts_like_a_dense_ring(seed: int) -> None:
    """A sparse counter (a few slots in use as a sorted list) gives the same ring, totals,
    current and sliding counts as a dense one, in and out of order, through saturation,
    turning dense when many slots are in use and sparse again after an idle window; its
    ring's bytes loaded back give the same counter."""
    rng = random.Random(seed)
    dense = SlidingCounter(60, 60.0, channels=3, typecode="B")
    sparse = SlidingCounter(60, 60.0, channels=3, typecode="B", sparse=True)
    day = SlidingCounter(24, 3600.0, typecode="I")
    day_sparse = SlidingCounter(24, 3600.0, typecode="I", sparse=True)
    ts = T0
    forms = set()
    for i in range(4000):
        if i % 800 < 200:  # a burst: past the cap of a slot
            ts += 0.2
        elif rng.random() < 0.05:  # out of order: within the window, or older than it
            ts += rng.choice([-90.0, -1500.0, -4000.0])
        else:
            ts += rng.choice([0.0, 1.0, 30.0, 61.0, 125.0, 400.0, 5000.0, 30000.0])
        view, error = rng.random() < 0.5, rng.random() < 0.2
        if i % 3:
            took = dense.add_request(ts, view, error)
            assert sparse.add_request(ts, view, error) is took
        else:
            took = dense.add(ts, (1, int(view), 0))
            assert sparse.add(ts, (1, int(view), 0)) is took
        assert day_sparse.add_one(ts) is day.add_one(ts)
        forms.add(sparse.cells is None)
        assert sparse.dense() == dense.ring and sparse.totals == dense.totals
        assert sparse.head == dense.head
        assert sparse.current(1) == dense.current(1)
        assert sparse.last_slot_span(ts, 0) == dense.last_slot_span(ts, 0)
        assert sparse.occupied() == dense.occupied()
        assert day_sparse.dense() == day.ring and day_sparse.totals == day.totals
        assert day_sparse.occupied() == day.occupied()
        loaded = SlidingCounter(60, 60.0, channels=3, typecode="B", sparse=True)
        loaded.head = sparse.head
        loaded.load_ring(sparse.dense().tobytes())
        assert loaded.dense() == dense.ring and loaded.totals == dense.totals
    assert forms == {True, False}  # it went dense and back to sparse


def test_sparse_counter_keeps_a_few_slots_without_a_ring() -> None:
    c = SlidingCounter(60, 60.0, channels=3, typecode="H", sparse=True)
    for minute in range(5):
        c.add_request(T0 + minute * 60, True, False)
    assert c.cells is not None and len(c.cells) == 5 * 4  # slot + 3 counts per minute used
    assert c.totals == [5, 5, 0]
    assert sum(c.dense()) == 10
    ring = c.ring  # handed out to be changed in place: the counter turns dense for good
    assert c.cells is None and c.ring is ring


def test_exact_distinct_set_tells_hashes_from_slots_and_dumps_them_unsigned() -> None:
    """The exact set keeps hashes and last-seen slots in one array: a hash equal to a slot
    number is still a new member, and hashes past 2**31 dump as the same uint32 bytes."""
    d = SlidingDistinct(HOUR)
    slot = int(T0 // HOUR.slot_s)
    big = 0xFFFFFFF0
    assert d.add(7, T0) and d.add(slot, T0) and d.add(big, T0) and d.add(big, T0 + 1)
    assert d.estimate() == 3.0
    head, last_sweep, members, stamps = d.dump()
    assert members == array("I", [7, slot, big]).tobytes()
    assert stamps == array("i", [slot, slot, slot]).tobytes()
    again = SlidingDistinct.load(HOUR, head, last_sweep, members, stamps)
    assert again.estimate() == 3.0 and again.dump() == d.dump()
    assert again.add(big, T0 + 2) and again.estimate() == 3.0


def test_sparse_counter_dense_bytes_are_the_rings() -> None:
    for channels, typecode in ((3, "H"), (1, "I")):
        c = SlidingCounter(60, 60.0, channels=channels, typecode=typecode, sparse=True)
        for k in range(6):
            c.add(T0 + k * 130.0, tuple(range(1, channels + 1)))
        c.add(T0 + 200.0, (7,) * channels)  # out of order, between two slots in use
        assert c.cells is not None
        assert bytes(c.dense_bytes()) == c.dense().tobytes()
        assert c.dense_bytes() != bytes(len(c.dense_bytes()))
