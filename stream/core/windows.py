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
import zlib
from array import array
from dataclasses import dataclass


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


_STAMP_MOD = 255  # sketch stamps are slot % 255 + 1 in one byte; 0 means empty
_SWEEP_EVERY = 64  # slots between sweeps of stale sketch stamps (keeps ages < 255)


class SlidingCounter:
    """Counts of ``channels`` quantities in ``slots`` slots of ``slot_s`` seconds."""

    __slots__ = ("cap", "channels", "head", "ring", "slot_s", "slots", "totals")

    def __init__(self, slots: int, slot_s: float, channels: int = 1, typecode: str = "H") -> None:
        self.slots = slots
        self.slot_s = slot_s
        self.channels = channels
        self.ring = _zeros(typecode, slots * channels)[:]  # a copy of a shared zero ring
        self.cap = (1 << (8 * self.ring.itemsize)) - 1
        self.head = -1
        self.totals = [0] * channels

    def slot_of(self, ts: float) -> int:
        return int(ts // self.slot_s)

    def advance(self, slot: int) -> None:
        """Move the head forward to ``slot``, expiring what falls out of the window."""
        head = self.head
        if slot <= head:
            return
        if head < 0:  # a fresh counter is all zeros already
            self.head = slot
            return
        ring, slots, channels = self.ring, self.slots, self.channels
        gap = slot - head
        if gap >= slots:
            self.ring = _zeros(ring.typecode, len(ring))[:]
            self.totals = [0] * channels
        elif gap * channels <= 6:  # a few cells expire (the usual step): one by one
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
        self.head = slot

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
        ring, cap, totals = self.ring, self.cap, self.totals
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
        i = (slot % self.slots) * self.channels + channel
        ring = self.ring
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
        base = (slot % self.slots) * 3
        ring, cap, totals = self.ring, self.cap, self.totals
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

    def total(self, channel: int = 0) -> int:
        return self.totals[channel]

    def current(self, channel: int = 0) -> int:
        """Count in the head slot (e.g. requests in the current minute)."""
        if self.head < 0:
            return 0
        return self.ring[(self.head % self.slots) * self.channels + channel]

    def last_slot_span(self, ts: float, channel: int = 0) -> int:
        """Events in the ``slot_s`` seconds up to ``ts`` (``ts`` in the head slot).

        The sliding-window estimate: the head slot plus the previous slot weighted by
        how much of it still lies within ``slot_s`` of ``ts``.
        """
        head = self.head
        if head < 0:
            return 0
        cur = self.ring[(head % self.slots) * self.channels + channel]
        prev = self.ring[((head - 1) % self.slots) * self.channels + channel]
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
    """Distinct 32-bit item hashes seen in a sliding event-time window."""

    __slots__ = ("count", "head", "hist", "keys", "last_sweep", "sketch", "spec", "stamps")

    def __init__(self, spec: DistinctSpec) -> None:
        self.spec = spec
        self.head = -1
        self.count = 0  # members (exact) or occupied positions (sketch) in the window
        self.hist = _zeros("H", spec.slots)[:]  # members by last-seen slot
        self.keys: array[int] | None = array("I")  # exact mode: item hashes
        self.stamps: array[int] | None = array("i")  # exact mode: last-seen slot
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
            for i in range(slots):
                hist[i] = 0
            self.count = 0
            if self.sketch is not None:
                self.sketch = bytearray(spec.bits)
            elif self.keys:
                self.keys, self.stamps = array("I"), array("i")
            self.head = slot
            self.last_sweep = slot
            return
        for k in range(head + 1, slot + 1):
            i = k % slots
            self.count -= hist[i]
            hist[i] = 0
        self.head = slot
        if slot - self.last_sweep >= _SWEEP_EVERY or self.sketch is None:
            self._sweep()

    def _sweep(self) -> None:
        """Forget members that left the window (bounds memory, prevents stamp aliasing)."""
        oldest = self.head - self.spec.slots  # members last seen at or before this are gone
        self.last_sweep = self.head
        if self.sketch is None:
            keys, stamps = self.keys, self.stamps
            assert keys is not None and stamps is not None
            if stamps and min(stamps) <= oldest:
                keep = [i for i, s in enumerate(stamps) if s > oldest]
                self.keys = array("I", [keys[i] for i in keep])
                self.stamps = array("i", [stamps[i] for i in keep])
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
            keys, stamps = self.keys, self.stamps
            assert keys is not None and stamps is not None
            if item_hash in keys:
                i = keys.index(item_hash)
                self._touch(stamps[i], slot)
                if slot > stamps[i]:
                    stamps[i] = slot
                return True
            if len(keys) < spec.exact_max:
                keys.append(item_hash)
                stamps.append(slot)
                self.count += 1
                self.hist[slot % spec.slots] += 1
                return True
            self._to_sketch()
        sketch = self.sketch
        assert sketch is not None
        pos = item_hash % spec.bits
        stamp = sketch[pos]
        if stamp:
            old = self._unstamp(stamp)
            self._touch(old, slot)
            if slot > old:
                sketch[pos] = slot % _STAMP_MOD + 1
        else:
            self.count += 1
            self.hist[slot % spec.slots] += 1
            sketch[pos] = slot % _STAMP_MOD + 1
        return True

    def _touch(self, old: int, slot: int) -> None:
        """A member last seen in ``old`` is seen again in ``slot``; fix the histogram."""
        if slot <= old:
            return
        slots = self.spec.slots
        if old > self.head - slots:
            self.hist[old % slots] -= 1
        else:
            self.count += 1
        self.hist[slot % slots] += 1

    def _to_sketch(self) -> None:
        spec = self.spec
        keys, stamps = self.keys, self.stamps
        assert keys is not None and stamps is not None
        sketch = bytearray(spec.bits)
        newest: dict[int, int] = {}
        oldest = self.head - spec.slots
        for key, stamp in zip(keys, stamps, strict=True):
            if stamp > oldest:
                pos = key % spec.bits
                if stamp > newest.get(pos, oldest):
                    newest[pos] = stamp
        hist = array("H", bytes(2 * spec.slots))
        for pos, stamp in newest.items():
            sketch[pos] = stamp % _STAMP_MOD + 1
            hist[stamp % spec.slots] += 1
        self.sketch, self.hist, self.count = sketch, hist, len(newest)
        self.keys = self.stamps = None
        self.last_sweep = self.head

    # -- persistence -----------------------------------------------------------------
    def dump(self) -> tuple[int, int, bytes, bytes | None]:
        """``(head, last_sweep, members, stamps)``: exact keys and stamps, or the sketch.

        The histogram and the count are not stored: :meth:`load` rebuilds them.
        """
        if self.sketch is None:
            assert self.keys is not None and self.stamps is not None
            return self.head, self.last_sweep, self.keys.tobytes(), self.stamps.tobytes()
        return self.head, self.last_sweep, bytes(self.sketch), None

    @classmethod
    def load(
        cls, spec: DistinctSpec, head: int, last_sweep: int, members: bytes, stamps: bytes | None
    ) -> SlidingDistinct:
        obj = cls(spec)
        obj.head, obj.last_sweep = head, last_sweep
        oldest = head - spec.slots
        if stamps is not None:
            obj.keys, obj.stamps = array("I", members), array("i", stamps)
            if len(obj.keys) != len(obj.stamps) or len(obj.keys) > spec.exact_max:
                raise ValueError("exact distinct set is inconsistent")
            slots_seen: list[int] = list(obj.stamps)
        else:
            if len(members) != spec.bits:
                raise ValueError("distinct sketch has the wrong size")
            obj.keys = obj.stamps = None
            obj.sketch = bytearray(members)
            slots_seen = [obj._unstamp(st) for st in obj.sketch if st]
        for slot in slots_seen:
            if slot > oldest:
                obj.hist[slot % spec.slots] += 1
                obj.count += 1
        return obj
