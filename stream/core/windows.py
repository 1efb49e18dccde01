"""Sliding windows in event time with bounded memory.

* :class:`SlidingCounter` — per-slot counts in a ring (e.g. 60 one-minute slots for
  the hour, 24 one-hour slots for the day) with running totals, so a window total
  is O(1) and the window slides with one-slot resolution.
* :class:`SlidingDistinct` — distinct items (target profiles) in a sliding window:
  exact up to ``exact_max`` items, then a *timestamped linear-counting sketch*
  (each of ``bits`` positions remembers the last slot an item hashed there), so an
  actor viewing 100k profiles a day costs ``bits`` bytes, not 100k entries.

Windows are anchored at the newest event time seen (the *head*). Events older than
the head but still inside the window (out of order) are counted; events older than
the window are refused by :meth:`add` (the caller decides what that means).
"""

from __future__ import annotations

import math
import struct
import zlib
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar


def stable_hash(text: str) -> int:
    """Stable, well-mixed 32-bit hash of an item (a profile id, an IP, an actor).

    Python's ``hash`` is salted per process, so CRC-32 is used for stability and the
    murmur3 finaliser mixes it: CRC-32 alone is linear, and sequential ids ("1001",
    "1002", ...) would crowd a few sketch positions.
    """
    h = zlib.crc32(text.encode())
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & 0xFFFFFFFF
    return h ^ (h >> 16)


_ZEROS: dict[tuple[str, int], array[int]] = {}


def _zeros(typecode: str, n: int) -> array[int]:
    """A shared array of ``n`` zeros (copy it with ``[:]``: one allocation, no bytes)."""
    z = _ZEROS.get((typecode, n))
    if z is None:
        z = _ZEROS[(typecode, n)] = array(typecode, bytes(array(typecode).itemsize * n))
    return z


_CAPS: dict[str, int] = {}  # saturation value per typecode: one int object, shared


def _cap(typecode: str) -> int:
    cap = _CAPS.get(typecode)
    if cap is None:
        cap = _CAPS[typecode] = (1 << (8 * array(typecode).itemsize)) - 1
    return cap


def _itemsize(typecode: str) -> int:
    return array(typecode).itemsize


_SHARED_INTS: dict[int, int] = {}
_SHARED_INTS_MAX = 4096


def shared_int(n: int) -> int:
    """One int object for each recent slot number, for every window whose head is there
    (an int past 256 is a 28-byte object of its own; most actors' heads are a few minutes)."""
    v = _SHARED_INTS.get(n)
    if v is None:
        if len(_SHARED_INTS) >= _SHARED_INTS_MAX:
            _SHARED_INTS.clear()
        v = _SHARED_INTS[n] = n
    return v


_CELL = "I"  # the sparse form of a counter: slot numbers and counts, uint32 each
_CELL_MAX = 0xFFFFFFFF

_STAMP_MOD = 255  # sketch stamps are slot % 255 + 1 in one byte; 0 means empty
_SWEEP_EVERY = 64  # slots between sweeps of stale sketch stamps (keeps ages < 255)


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
    # counter of a kind: class attributes of a subclass made once per shape (see
    # ``__new__``), so an instance holds only its head, counts and totals.
    __slots__ = ("_ring", "cells", "head", "totals")
    _shapes: ClassVar[dict[tuple[int, float, int, str, bool], type[SlidingCounter]]] = {}
    slots: int
    slot_s: float
    channels: int
    typecode: str
    cap: int  # a count saturates here instead of wrapping
    max_cells: int  # sparse groups (slot + counts) kept before a dense ring is smaller
    itemsize: int
    pack_group: Callable[..., None]  # (buffer, offset, *counts): one slot as the ring has it

    def __new__(
        cls,
        slots: int,
        slot_s: float,
        channels: int = 1,
        typecode: str = "H",
        sparse: bool = False,
    ) -> SlidingCounter:
        key = (slots, slot_s, channels, typecode, sparse)
        shape = SlidingCounter._shapes.get(key)
        if shape is None:
            cap = _cap(typecode)
            groups = slots * channels * _itemsize(typecode) // (2 * 4 * (1 + channels))
            attrs = {
                "__slots__": (),
                "slots": slots,
                "slot_s": slot_s,
                "channels": channels,
                "typecode": typecode,
                "cap": cap,
                "max_cells": groups if sparse and cap <= _CELL_MAX else 0,
                "itemsize": _itemsize(typecode),
                # one slot's counts as an array of the typecode holds them (native order)
                "pack_group": struct.Struct(f"={channels}{typecode}").pack_into,
            }
            shape = SlidingCounter._shapes[key] = type(cls.__name__, (cls,), attrs)
        return object.__new__(shape)

    def __init__(
        self,
        slots: int,
        slot_s: float,
        channels: int = 1,
        typecode: str = "H",
        sparse: bool = False,
    ) -> None:
        self._ring: array[int] | None = None
        self.cells: array[int] | None = None
        if self.max_cells:
            self.cells = array(_CELL)
        else:
            self._ring = _zeros(typecode, slots * channels)[:]  # a copy of a shared zero ring
        self.head = -1
        self.totals = [0] * channels

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
        slots, channels = self.slots, self.channels
        ring = _zeros(self.typecode, slots * channels)[:]
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
        slots, channels, itemsize = self.slots, self.channels, self.itemsize
        buf = bytearray(slots * channels * itemsize)
        pack = self.pack_group
        cl = cells.tolist()
        g = 1 + channels
        for i in range(0, len(cl), g):
            pack(buf, (cl[i] % slots) * channels * itemsize, *cl[i + 1 : i + g])
        return buf

    def load_ring(self, data: bytes | memoryview) -> None:
        """Set the counts and totals from a dense ring's bytes (:meth:`dense`), kept
        sparse when few slots are in use. ``head`` must be set first."""
        ring = array(self.typecode)
        ring.frombytes(data)
        slots, channels, head = self.slots, self.channels, self.head
        if len(ring) != slots * channels:
            raise ValueError("window ring has the wrong size")
        self.totals = [sum(ring[c::channels]) for c in range(channels)]
        if self.max_cells and head >= 0:
            used = sorted(
                {head - ((head - i // channels) % slots) for i, n in enumerate(ring) if n}
            )
            if len(used) <= self.max_cells and (not used or 0 <= used[0] <= used[-1] <= _CELL_MAX):
                counts = ring.tolist()
                cells: list[int] = []
                for slot in used:
                    base = (slot % slots) * channels
                    cells.append(slot)
                    cells += counts[base : base + channels]
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
        g = 1 + self.channels
        n = len(cells)
        i = n - g
        while i >= 0 and cells[i] > slot:  # groups are sorted by slot: the newest last
            i -= g
        if i >= 0 and cells[i] == slot:
            return i + 1
        if n >= self.max_cells * g or not 0 <= slot <= _CELL_MAX:
            self._to_dense()
            return -1
        i += g
        # a new array of the exact size (growing in place would over-allocate)
        if i == n:
            cells = self.cells = cells + _zeros(_CELL, g)
        else:
            cells = self.cells = cells[:i] + _zeros(_CELL, g) + cells[i:]
        cells[i] = slot
        return i + 1

    def _count(self, slot: int, channel: int) -> int:
        """Count of ``channel`` in ``slot`` (in the window)."""
        ring = self._ring
        if ring is not None:
            return ring[(slot % self.slots) * self.channels + channel]
        cells = self.cells
        assert cells is not None
        g = 1 + self.channels
        i = len(cells) - g
        while i >= 0 and cells[i] > slot:  # sorted by slot: the newest last
            i -= g
        return cells[i + 1 + channel] if i >= 0 and cells[i] == slot else 0

    # -- time ------------------------------------------------------------------------
    def slot_of(self, ts: float) -> int:
        return int(ts // self.slot_s)

    def advance(self, slot: int) -> None:
        """Move the head forward to ``slot``, expiring what falls out of the window."""
        head = self.head
        if slot <= head:
            return
        if head < 0:  # a fresh counter is all zeros already
            self.head = slot = shared_int(slot)
            return
        slots, channels = self.slots, self.channels
        gap = slot - head
        if gap >= slots:
            if self.max_cells:
                self._ring, self.cells = None, array(_CELL)
            else:
                self._ring = _zeros(self.typecode, slots * channels)[:]
            self.totals = [0] * channels
            self.head = slot = shared_int(slot)
            return
        cells = self.cells
        if cells is not None:
            oldest = slot - slots  # groups of this slot or older leave the window
            if cells and cells[0] <= oldest:
                totals, g, n = self.totals, 1 + channels, 0
                while n < len(cells) and cells[n] <= oldest:
                    for c in range(channels):
                        totals[c] -= cells[n + 1 + c]
                    n += g
                del cells[:n]
            self.head = slot = shared_int(slot)
            return
        ring = self._ring
        assert ring is not None
        if gap * channels <= 6:  # a few cells expire (the usual step): one by one
            totals = self.totals
            for k in range(head + 1, slot + 1):
                base = (k % slots) * channels
                for c in range(channels):
                    n = ring[base + c]
                    if n:
                        totals[c] -= n
                        ring[base + c] = 0
        else:
            # slots head+1 .. slot expire: at most two contiguous runs of the ring
            first, last = (head + 1) % slots, slot % slots
            runs = ((first, last + 1),) if first <= last else ((first, slots), (0, last + 1))
            totals = self.totals
            for a, b in runs:
                lo, hi = a * channels, b * channels
                run = ring[lo:hi]
                if run.count(0) == hi - lo:
                    continue  # nothing counted there (a sparse actor's usual gap)
                for c in range(channels):
                    totals[c] -= sum(run[c::channels])
                ring[lo:hi] = _zeros(ring.typecode, hi - lo)
        self.head = slot = shared_int(slot)

    # -- counting --------------------------------------------------------------------
    def add(self, ts: float, incs: tuple[int, ...] | list[int]) -> bool:
        """Add ``incs[c]`` to channel ``c`` at event time ``ts``.

        Returns False (and counts nothing) when ``ts`` is older than the window.
        Slots saturate at the type's maximum instead of wrapping.
        """
        slot = int(ts // self.slot_s)
        if slot > self.head:
            self.advance(slot)
        elif slot <= self.head - self.slots:
            return False
        cap, totals = self.cap, self.totals
        if self.cells is not None:
            base = self._cell(slot)
            cells = self.cells
            if base >= 0 and cells is not None:
                for c, n in enumerate(incs):
                    if n:
                        room = cap - cells[base + c]
                        if n > room:
                            n = room
                        cells[base + c] += n
                        totals[c] += n
                return True
        ring = self._ring
        assert ring is not None
        base = (slot % self.slots) * self.channels
        for c, n in enumerate(incs):
            if n:
                room = cap - ring[base + c]
                if n > room:
                    n = room
                ring[base + c] += n
                totals[c] += n
        return True

    def add_one(self, ts: float, channel: int = 0) -> bool:
        """:meth:`add` of 1 to one channel, without building a tuple (the hot path)."""
        slot = int(ts // self.slot_s)
        head = self.head
        if slot > head:
            self.advance(slot)
        elif slot <= head - self.slots:
            return False
        cells = self.cells
        if cells is not None:
            g = 1 + self.channels
            n = len(cells)
            i = n - g + 1 if n and cells[n - g] == slot else self._cell(slot)
            if i >= 0:
                cells = self.cells
                assert cells is not None
                i += channel
                if cells[i] < self.cap:
                    cells[i] += 1
                    self.totals[channel] += 1
                return True
        ring = self._ring
        assert ring is not None
        i = (slot % self.slots) * self.channels + channel
        if ring[i] < self.cap:
            ring[i] += 1
            self.totals[channel] += 1
        return True

    def add_request(self, ts: float, view: bool, error: bool) -> bool:
        """:meth:`add` of ``(1, view, error)`` to a three-channel ring (the hot path)."""
        slot = int(ts // self.slot_s)
        head = self.head
        if slot > head:
            self.advance(slot)
        elif slot <= head - self.slots:
            return False
        cap, totals = self.cap, self.totals
        cells = self.cells
        if cells is not None:
            n = len(cells)
            base = n - 3 if n and cells[n - 4] == slot else self._cell(slot)
            if base >= 0:
                cells = self.cells
                assert cells is not None
                if cells[base] < cap:
                    cells[base] += 1
                    totals[0] += 1
                if view and cells[base + 1] < cap:
                    cells[base + 1] += 1
                    totals[1] += 1
                if error and cells[base + 2] < cap:
                    cells[base + 2] += 1
                    totals[2] += 1
                return True
        ring = self._ring
        assert ring is not None
        base = (slot % self.slots) * 3
        if ring[base] < cap:
            ring[base] += 1
            totals[0] += 1
        if view and ring[base + 1] < cap:
            ring[base + 1] += 1
            totals[1] += 1
        if error and ring[base + 2] < cap:
            ring[base + 2] += 1
            totals[2] += 1
        return True

    # -- reads -----------------------------------------------------------------------
    def total(self, channel: int = 0) -> int:
        return self.totals[channel]

    def occupied(self) -> int:
        """Slots of the window with a count in any channel."""
        cells = self.cells
        channels = self.channels
        if cells is not None:
            g = 1 + channels
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
        elapsed = (ts - head * self.slot_s) / self.slot_s
        weight = 1.0 - min(max(elapsed, 0.0), 1.0)
        return cur + int(prev * weight + 0.5)


@dataclass(frozen=True, slots=True)
class DistinctSpec:
    """Shape of a :class:`SlidingDistinct` (shared by all actors, not stored per actor)."""

    slots: int
    slot_s: float
    exact_max: int
    bits: int

    def __post_init__(self) -> None:
        if self.slots + 2 * _SWEEP_EVERY >= _STAMP_MOD:
            raise ValueError("window too long for one-byte sketch stamps")

    def estimate(self, occupied: int) -> float:
        """Linear-counting estimate of distinct items from occupied positions."""
        bits = self.bits
        if occupied >= bits:
            return bits * math.log(bits)  # saturated: report the sketch's ceiling
        return -bits * math.log(1.0 - occupied / bits)


class SlidingDistinct:
    """Distinct 32-bit item hashes seen in a sliding event-time window.

    Exact mode keeps the item hashes and the slot each was last seen in; every step of
    the head forgets those that left the window, so ``count`` is the number of keys there and
    no histogram is needed. Sketch mode keeps a histogram of positions by last-seen slot
    (``hist``), so the window slides in O(1).
    """

    __slots__ = ("count", "head", "hist", "keys", "last_sweep", "sketch", "spec")

    def __init__(self, spec: DistinctSpec) -> None:
        self.spec = spec
        self.head = -1
        self.count = 0  # members (exact) or occupied positions (sketch) in the window
        self.hist: array[int] | None = None  # sketch mode: positions by last-seen slot
        # exact mode: the item hashes (as int32: the same four bytes), then the slot each
        # was last seen in: one array instead of two
        self.keys: array[int] | None = array("i")
        self.sketch: bytearray | None = None  # sketch mode: stamp per position
        self.last_sweep = -1

    @property
    def exact(self) -> bool:
        return self.sketch is None

    def estimate(self) -> float:
        if self.sketch is None:
            return float(self.count)
        return self.spec.estimate(self.count)

    # -- time ------------------------------------------------------------------------
    def advance(self, slot: int) -> None:
        head = self.head
        if slot <= head:
            return
        spec, hist = self.spec, self.hist
        slots = spec.slots
        if head < 0 or slot - head >= slots:
            self.count = 0
            if hist is not None:  # sketch mode
                self.hist = _zeros("H", slots)[:]
                self.sketch = bytearray(spec.bits)
            elif self.keys:
                self.keys = array("i")
            self.head = slot = shared_int(slot)
            self.last_sweep = slot
            return
        self.head = slot = shared_int(slot)
        if hist is None:  # exact mode: forget who left the window; the rest are counted
            self._sweep()
            assert self.keys is not None
            self.count = len(self.keys) >> 1
            return
        for k in range(head + 1, slot + 1):
            i = k % slots
            self.count -= hist[i]
            hist[i] = 0
        if slot - self.last_sweep >= _SWEEP_EVERY:
            self._sweep()

    def _sweep(self) -> None:
        """Forget members that left the window (bounds memory, prevents stamp aliasing)."""
        oldest = self.head - self.spec.slots  # members last seen at or before this are gone
        self.last_sweep = self.head
        if self.sketch is None:
            keys = self.keys
            assert keys is not None
            n = len(keys) >> 1
            if n and min(keys[n:]) <= oldest:
                keep = [i for i in range(n) if keys[n + i] > oldest]
                self.keys = array("i", [keys[i] for i in keep] + [keys[n + i] for i in keep])
            return
        sketch = self.sketch
        for p, stamp in enumerate(sketch):
            if stamp and self._unstamp(stamp) <= oldest:
                sketch[p] = 0

    def _unstamp(self, stamp: int) -> int:
        head = self.head
        return head - ((head - (stamp - 1)) % _STAMP_MOD)

    # -- members ---------------------------------------------------------------------
    def add(self, item_hash: int, ts: float) -> bool:
        """Record ``item_hash`` seen at ``ts``. False when ``ts`` is older than the window."""
        spec = self.spec
        slot = int(ts // spec.slot_s)
        if slot > self.head:
            self.advance(slot)
        elif slot <= self.head - spec.slots:
            return False
        if self.sketch is None:
            keys = self.keys
            assert keys is not None
            key = item_hash - 0x100000000 if item_hash > 0x7FFFFFFF else item_hash
            n = len(keys) >> 1
            i = -1
            if key in keys:  # or a slot of the same value: look among the keys
                try:
                    i = keys.index(key, 0, n)
                except ValueError:
                    i = -1
            if i >= 0:
                old = keys[n + i]
                self._touch(old, slot)
                if slot > old:
                    keys[n + i] = slot
                return True
            if n < spec.exact_max:
                keys.insert(n, key)
                keys.append(slot)
                self.count += 1
                return True
            self._to_sketch()
        sketch, hist = self.sketch, self.hist
        assert sketch is not None and hist is not None
        pos = item_hash % spec.bits
        stamp = sketch[pos]
        if stamp:
            old = self._unstamp(stamp)
            self._touch(old, slot)
            if slot > old:
                sketch[pos] = slot % _STAMP_MOD + 1
        else:
            self.count += 1
            hist[slot % spec.slots] += 1
            sketch[pos] = slot % _STAMP_MOD + 1
        return True

    def _touch(self, old: int, slot: int) -> None:
        """A member last seen in ``old`` is seen again in ``slot``; fix the histogram."""
        if slot <= old:
            return
        slots, hist = self.spec.slots, self.hist
        if old > self.head - slots:
            if hist is not None:
                hist[old % slots] -= 1
                hist[slot % slots] += 1
            return
        self.count += 1
        if hist is not None:
            hist[slot % slots] += 1

    def _to_sketch(self) -> None:
        spec = self.spec
        keys = self.keys
        assert keys is not None
        n = len(keys) >> 1
        sketch = bytearray(spec.bits)
        newest: dict[int, int] = {}
        oldest = self.head - spec.slots
        for key, stamp in zip(keys[:n], keys[n:], strict=True):
            if stamp > oldest:
                pos = (key & 0xFFFFFFFF) % spec.bits  # the hash, unsigned
                if stamp > newest.get(pos, oldest):
                    newest[pos] = stamp
        hist = _zeros("H", spec.slots)[:]
        for pos, stamp in newest.items():
            sketch[pos] = stamp % _STAMP_MOD + 1
            hist[stamp % spec.slots] += 1
        self.sketch, self.hist, self.count = sketch, hist, len(newest)
        self.keys = None
        self.last_sweep = self.head

    # -- persistence -----------------------------------------------------------------
    def dump(self) -> tuple[int, int, bytes, bytes | None]:
        """``(head, last_sweep, members, stamps)``: exact keys and stamps, or the sketch.

        The histogram and the count are not stored: :meth:`load` rebuilds them.
        """
        if self.sketch is None:
            keys = self.keys
            assert keys is not None
            n = len(keys) >> 1
            return self.head, self.last_sweep, keys[:n].tobytes(), keys[n:].tobytes()
        return self.head, self.last_sweep, bytes(self.sketch), None

    @classmethod
    def load(
        cls, spec: DistinctSpec, head: int, last_sweep: int, members: bytes, stamps: bytes | None
    ) -> SlidingDistinct:
        obj = cls(spec)
        obj.head, obj.last_sweep = shared_int(head), shared_int(last_sweep)
        oldest = head - spec.slots
        if stamps is not None:
            if len(members) != len(stamps) or len(members) % 4 or len(members) > 4 * spec.exact_max:
                raise ValueError("exact distinct set is inconsistent")
            obj.keys = array("i", members + stamps)
            n = len(obj.keys) >> 1
            obj.count = sum(1 for slot in obj.keys[n:] if slot > oldest)
            return obj
        if len(members) != spec.bits:
            raise ValueError("distinct sketch has the wrong size")
        obj.keys = None
        obj.sketch = bytearray(members)
        hist = obj.hist = _zeros("H", spec.slots)[:]
        for stamp in obj.sketch:
            if stamp:
                slot = obj._unstamp(stamp)
                if slot > oldest:
                    hist[slot % spec.slots] += 1
                    obj.count += 1
        return obj
