"""A count of events per slot of event time, over a sliding window:
:class:`SlidingCounter` (re-exported by :mod:`stream.core.windows`, which describes the
windows).
"""

from __future__ import annotations

from array import array

from stream.core.counter_shape import CELL_MAX as _CELL_MAX
from stream.core.counter_shape import Shape
from stream.core.shared_values import shared_int, zeros

_CELL = "I"  # the sparse form of a counter: slot numbers and counts, uint32 each


class SlidingCounter:
    """Counts of ``channels`` quantities in ``slots`` slots of ``slot_s`` seconds.

    Dense, the counts are a ring of ``slots × channels`` cells. With ``sparse=True`` a
    counter starts as a short sorted list of the slots in use instead (``cells``: the
    slot number, then its counts, uint32 each) and turns dense for good when more slots
    are in use than half the ring's bytes hold; an idle gap as long as the window makes
    it sparse again. Most actors make a few requests in a few minutes: a few cells
    instead of a ring of zeros. Both forms count alike; :meth:`dense` gives the ring.
    """

    # The shape (slots, slot_s, channels, typecode, cap, max_cells) is the same for every
    # counter of a kind: one shared :class:`Shape` per kind, so an instance holds only a
    # reference to it, its head, counts and totals. The totals of channels 0-2 are three
    # fields (t0, t1, t2): a list of them was 64-80 bytes more per counter.
    __slots__ = ("_ring", "cells", "head", "shape", "t0", "t1", "t2")

    def __init__(
        self,
        slots: int,
        slot_s: float,
        channels: int = 1,
        typecode: str = "H",
        sparse: bool = False,
    ) -> None:
        self.shape = shape = Shape.of(slots, slot_s, channels, typecode, sparse)
        self._ring: array[int] | None = None
        self.cells: array[int] | None = None
        if shape.max_cells:
            self.cells = array(_CELL)
        else:
            self._ring = zeros(typecode, slots * channels)[:]  # a copy of a shared zero ring
        self.head = -1
        if channels > 3:
            raise ValueError("a sliding counter has at most 3 channels")
        self.t0 = self.t1 = self.t2 = 0

    # -- the two forms ---------------------------------------------------------------
    @property
    def ring(self) -> array[int]:
        """The dense ring, to read or change in place (a sparse counter turns dense)."""
        ring = self._ring
        if ring is None:
            ring = self._ring = self.dense()
            self.cells = None
        return ring

    @ring.setter
    def ring(self, ring: array[int]) -> None:
        self._ring, self.cells = ring, None

    def dense(self) -> array[int]:
        """The counts as a dense ring (the counter's own in dense form, else a new one)."""
        ring = self._ring
        if ring is not None:
            return ring
        cells = self.cells
        assert cells is not None
        slots, channels = self.shape.slots, self.shape.channels
        ring = zeros(self.shape.typecode, slots * channels)[:]
        for i in range(0, len(cells), 1 + channels):
            base = (cells[i] % slots) * channels
            for c in range(channels):
                ring[base + c] = cells[i + 1 + c]
        return ring

    def dense_bytes(self) -> array[int] | bytearray:
        """The bytes of :meth:`dense` (a buffer, for the changelog), without the array."""
        ring = self._ring
        if ring is not None:
            return ring
        cells = self.cells
        assert cells is not None
        slots, channels, itemsize = self.shape.slots, self.shape.channels, self.shape.itemsize
        buf = bytearray(slots * channels * itemsize)
        pack = self.shape.pack_group
        cl = cells.tolist()
        g = 1 + channels
        for i in range(0, len(cl), g):
            pack(buf, (cl[i] % slots) * channels * itemsize, *cl[i + 1 : i + g])
        return buf

    def load_ring(self, data: bytes | memoryview) -> None:
        """Set the counts and totals from a dense ring's bytes (:meth:`dense`), kept
        sparse when few slots are in use. ``head`` must be set first."""
        ring = array(self.shape.typecode)
        ring.frombytes(data)
        slots, channels, head = self.shape.slots, self.shape.channels, self.head
        if len(ring) != slots * channels:
            raise ValueError("window ring has the wrong size")
        # one pass over the counts as a list (a cold actor's decode: no slices, no set)
        counts: list[int] = ring.tolist()
        totals = [0] * channels
        used: list[int] = []  # ring positions of the slots in use
        base = 0
        for k in range(slots):
            in_use = False
            for c in range(channels):
                n = counts[base + c]
                if n:
                    totals[c] += n
                    in_use = True
            if in_use:
                used.append(k)
            base += channels
        self.totals = totals
        max_cells = self.shape.max_cells
        if max_cells and head >= 0 and len(used) <= max_cells:
            # a position's slot: the newest slot at or before head that maps to it
            slot_of = sorted(head - ((head - k) % slots) for k in used)
            if not slot_of or 0 <= slot_of[0] <= slot_of[-1] <= _CELL_MAX:
                cells: list[int] = []
                for slot in slot_of:
                    b = (slot % slots) * channels
                    cells.append(slot)
                    cells += counts[b : b + channels]
                self._ring, self.cells = None, array(_CELL, cells)
                return
        self._ring, self.cells = ring, None

    def _to_dense(self) -> None:
        self._ring = self.dense()
        self.cells = None

    def _cell(self, slot: int) -> int:
        """Sparse form: index in ``cells`` of the first count of ``slot`` (its group made
        if needed); -1 when the counter had to turn dense instead."""
        cells = self.cells
        assert cells is not None
        g = 1 + self.shape.channels
        n = len(cells)
        i = n - g
        while i >= 0 and cells[i] > slot:  # groups are sorted by slot: the newest last
            i -= g
        if i >= 0 and cells[i] == slot:
            return i + 1
        if n >= self.shape.max_cells * g or not 0 <= slot <= _CELL_MAX:
            self._to_dense()
            return -1
        i += g
        # a new array of the exact size (growing in place would over-allocate)
        if i == n:
            cells = self.cells = cells + zeros(_CELL, g)
        else:
            cells = self.cells = cells[:i] + zeros(_CELL, g) + cells[i:]
        cells[i] = slot
        return i + 1

    def _count(self, slot: int, channel: int) -> int:
        """Count of ``channel`` in ``slot`` (in the window)."""
        ring = self._ring
        if ring is not None:
            return ring[(slot % self.shape.slots) * self.shape.channels + channel]
        cells = self.cells
        assert cells is not None
        g = 1 + self.shape.channels
        i = len(cells) - g
        while i >= 0 and cells[i] > slot:  # sorted by slot: the newest last
            i -= g
        return cells[i + 1 + channel] if i >= 0 and cells[i] == slot else 0

    # -- time ------------------------------------------------------------------------
    def slot_of(self, ts: float) -> int:
        return int(ts // self.shape.slot_s)

    def advance(self, slot: int) -> None:
        """Move the head forward to ``slot``, expiring what falls out of the window."""
        head = self.head
        if slot <= head:
            return
        if head < 0:  # a fresh counter is all zeros already
            self.head = slot = shared_int(slot)
            return
        slots, channels = self.shape.slots, self.shape.channels
        gap = slot - head
        if gap >= slots:
            if self.shape.max_cells:
                self._ring, self.cells = None, array(_CELL)
            else:
                self._ring = zeros(self.shape.typecode, slots * channels)[:]
            self.t0 = self.t1 = self.t2 = 0
            self.head = slot = shared_int(slot)
            return
        cells = self.cells
        if cells is not None:
            oldest = slot - slots  # groups of this slot or older leave the window
            if cells and cells[0] <= oldest:
                g, n = 1 + channels, 0
                while n < len(cells) and cells[n] <= oldest:
                    for c in range(channels):
                        self._bump(c, -cells[n + 1 + c])
                    n += g
                del cells[:n]
            self.head = slot = shared_int(slot)
            return
        ring = self._ring
        assert ring is not None
        if gap * channels <= 6:  # a few cells expire (the usual step): one by one
            for k in range(head + 1, slot + 1):
                base = (k % slots) * channels
                for c in range(channels):
                    n = ring[base + c]
                    if n:
                        self._bump(c, -n)
                        ring[base + c] = 0
        else:
            # slots head+1 .. slot expire: at most two contiguous runs of the ring
            first, last = (head + 1) % slots, slot % slots
            runs = ((first, last + 1),) if first <= last else ((first, slots), (0, last + 1))
            for a, b in runs:
                lo, hi = a * channels, b * channels
                run = ring[lo:hi]
                if run.count(0) == hi - lo:
                    continue  # nothing counted there (a sparse actor's usual gap)
                for c in range(channels):
                    self._bump(c, -sum(run[c::channels]))
                ring[lo:hi] = zeros(ring.typecode, hi - lo)
        self.head = slot = shared_int(slot)

    # -- counting --------------------------------------------------------------------
    def _locate(self, slot: int) -> tuple[array[int], int]:
        """The array that holds ``slot``'s counts and the index of its channel 0: a group
        of the sparse form (made if needed), else the ring (the counter may have just
        turned dense)."""
        cells = self.cells
        if cells is not None:
            g = 1 + self.shape.channels
            n = len(cells)
            i = n - g + 1 if n and cells[n - g] == slot else self._cell(slot)
            if i >= 0:
                cells = self.cells  # _cell may have replaced the array
                assert cells is not None
                return cells, i
        ring = self._ring
        assert ring is not None
        return ring, (slot % self.shape.slots) * self.shape.channels

    def _slot(self, ts: float) -> int | None:
        """The slot of ``ts`` with the window moved up to it; None when ``ts`` is older
        than the window."""
        slot = int(ts // self.shape.slot_s)
        head = self.head
        if slot > head:
            self.advance(slot)
        elif slot <= head - self.shape.slots:
            return None
        return slot

    def add(self, ts: float, incs: tuple[int, ...] | list[int]) -> bool:
        """Add ``incs[c]`` to channel ``c`` at event time ``ts``.

        Returns False (and counts nothing) when ``ts`` is older than the window.
        Slots saturate at the type's maximum instead of wrapping.
        """
        slot = self._slot(ts)
        if slot is None:
            return False
        buf, base = self._locate(slot)
        cap = self.shape.cap
        for c, n in enumerate(incs):
            if n:
                room = cap - buf[base + c]
                if n > room:
                    n = room
                buf[base + c] += n
                self._bump(c, n)
        return True

    def add_one(self, ts: float, channel: int = 0) -> bool:
        """:meth:`add` of 1 to one channel, without building a tuple (the hot path)."""
        slot = self._slot(ts)
        if slot is None:
            return False
        buf, i = self._locate(slot)
        i += channel
        if buf[i] < self.shape.cap:
            buf[i] += 1
            self._bump(channel, 1)
        return True

    def add_request(self, ts: float, view: bool, error: bool) -> bool:
        """:meth:`add` of ``(1, view, error)`` to a three-channel ring (the hot path)."""
        if self.shape.channels != 3:
            raise IndexError("add_request needs three channels")
        slot = self._slot(ts)
        if slot is None:
            return False
        buf, base = self._locate(slot)
        cap = self.shape.cap
        if buf[base] < cap:
            buf[base] += 1
            self.t0 += 1
        if view and buf[base + 1] < cap:
            buf[base + 1] += 1
            self.t1 += 1
        if error and buf[base + 2] < cap:
            buf[base + 2] += 1
            self.t2 += 1
        return True

    # -- reads -----------------------------------------------------------------------
    def total(self, channel: int = 0) -> int:
        """The window's count of ``channel``."""
        if not 0 <= channel < self.shape.channels:
            raise IndexError(f"no channel {channel}")
        if channel == 0:
            return self.t0
        return self.t1 if channel == 1 else self.t2

    @property
    def totals(self) -> list[int]:
        """The window's count of each channel."""
        return [self.t0, self.t1, self.t2][: self.shape.channels]

    @totals.setter
    def totals(self, totals: list[int]) -> None:
        if len(totals) != self.shape.channels:
            raise ValueError("one total per channel")
        padded = [*totals, 0, 0]
        self.t0, self.t1, self.t2 = padded[0], padded[1], padded[2]

    def _bump(self, channel: int, n: int) -> None:
        if not 0 <= channel < self.shape.channels:
            raise IndexError(f"no channel {channel}")
        if channel == 0:
            self.t0 += n
        elif channel == 1:
            self.t1 += n
        else:
            self.t2 += n

    def occupied(self) -> int:
        """Slots of the window with a count in any channel."""
        cells = self.cells
        channels = self.shape.channels
        if cells is not None:
            g = 1 + channels
            if channels == 1:  # the day's counter, read per event: a strided count in C
                return len(cells) // g - cells[1::g].count(0)
            return sum(1 for i in range(0, len(cells), g) if any(cells[i + 1 : i + g]))
        ring = self._ring
        assert ring is not None
        if channels == 1:
            return len(ring) - ring.count(0)
        return sum(1 for i in range(0, len(ring), channels) if any(ring[i : i + channels]))

    def current(self, channel: int = 0) -> int:
        """Count in the head slot (e.g. requests in the current minute)."""
        if self.head < 0:
            return 0
        return self._count(self.head, channel)

    def last_slot_span(self, ts: float, channel: int = 0) -> int:
        """Events in the ``slot_s`` seconds up to ``ts`` (``ts`` in the head slot).

        The sliding-window estimate: the head slot plus the previous slot weighted by
        how much of it still lies within ``slot_s`` of ``ts``.
        """
        head = self.head
        if head < 0:
            return 0
        cur = self._count(head, channel)
        prev = self._count(head - 1, channel)
        elapsed = (ts - head * self.shape.slot_s) / self.shape.slot_s
        weight = 1.0 - min(max(elapsed, 0.0), 1.0)
        return cur + int(prev * weight + 0.5)
