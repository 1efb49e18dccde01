"""Sliding windows in event time with bounded memory.

* :class:`SlidingCounter` (:mod:`stream.core.sliding_counter`) — per-slot counts in a
  ring (e.g. 60 one-minute slots for the hour, 24 one-hour slots for the day) with
  running totals, so a window total is O(1) and the window slides with one-slot
  resolution; optionally sparse (only the slots in use) while few slots are in use.
* :class:`SlidingDistinct` — distinct items (target profiles) in a sliding window:
  exact up to ``exact_max`` items, then a *timestamped linear-counting sketch*
  (each of ``bits`` positions remembers the last slot an item hashed there), so an
  actor viewing 100k profiles a day costs ``bits`` bytes, not 100k entries.

Windows are anchored at the newest event time seen (the *head*). Events older than
the head but still inside the window (out of order) are counted; events older than
the window are refused by :meth:`add` (the caller decides what that means).
"""

from __future__ import annotations

import hashlib
import math
import zlib
from array import array
from dataclasses import dataclass
from functools import lru_cache

from stream.core.shared_values import shared_int
from stream.core.shared_values import zeros as _zeros
from stream.core.sliding_counter import SlidingCounter

__all__ = [
    "DistinctSpec",
    "SlidingCounter",
    "SlidingDistinct",
    "hash_key",
    "keyed_hash",
    "shared_int",
    "stable_hash",
    "use_hash_key",
]


# The deployment's hash key (:func:`use_hash_key`; empty = unkeyed) and the CRC's start
# value taken from it
_key = b""
_seed = 0


def use_hash_key(key: bytes) -> None:
    """Key :func:`stable_hash` and :func:`keyed_hash` for this process (a worker: a key
    derived from its pseudonym key; ``b""``: unkeyed, as offline tools run).

    Without a key, anyone who reads this code can search offline for profile ids that
    share a sketch position and scrape only those, so an actor's distinct-profile count
    never grows; or make up user agents that count as one. With a key unknown to them,
    which items collide cannot be computed. Set once at start-up, before any state is
    restored: hashes kept in actor state were made with the key in use when they were
    written (a new key makes distinct counts read high for up to a window, a day, as old
    and new hashes mix).
    """
    global _key, _seed
    if len(key) > 64:
        raise ValueError("a hash key is at most 64 bytes (BLAKE2b's)")
    _key = bytes(key)
    _seed = int.from_bytes(_key[:4], "little")
    keyed_hash.cache_clear()


def hash_key() -> bytes:
    """The key the hashes use now (``b""``: unkeyed)."""
    return _key


@lru_cache(maxsize=16384)
def keyed_hash(text: str) -> int:
    """A 32-bit keyed BLAKE2b of ``text``: for what a client writes itself (user agents,
    account names), where CRC-32 would not do — its collisions can be made up offline
    and stay collisions under every start value. Cached: most such texts repeat."""
    digest = hashlib.blake2b(text.encode(), digest_size=4, key=_key).digest()
    return int.from_bytes(digest, "little")


def stable_hash(text: str) -> int:
    """Stable, well-mixed 32-bit hash of an item (a profile id, an IP, an actor).

    Python's ``hash`` is salted per process, so CRC-32 is used for stability and the
    murmur3 finaliser mixes it: CRC-32 alone is linear, and sequential ids ("1001",
    "1002", ...) would crowd a few sketch positions. The CRC starts from the process's
    seed (:func:`use_hash_key`); the finaliser, which is not linear, then makes where
    an item lands depend on the seed. Not a MAC: CRC-32 from a seed is the CRC from 0
    XOR a mask of the seed and the length, so 32 bits are secret, and two ids of one
    length whose CRCs are equal stay equal under every seed (among real ids such pairs
    are rare and apart). One who could watch many of their own challenges start could
    in principle search the seed; the shipped gateways do not tell clients the count.
    For ids a client picks among but cannot make up (profiles, addresses); for what it
    writes itself, :func:`keyed_hash`.
    """
    h = zlib.crc32(text.encode(), _seed)
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & 0xFFFFFFFF
    return h ^ (h >> 16)


_STAMP_MOD = 255  # sketch stamps are slot % 255 + 1 in one byte; 0 means empty
_SWEEP_EVERY = 64  # slots between sweeps of stale sketch stamps (keeps ages < 255)


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
        for p in range(len(sketch)):  # (an index loop: mypyc cannot iterate a bytearray)
            stamp = sketch[p]
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
        # no stamp the last sweep would have cleared (read back, it would alias into the
        # window once the head moves on: a count below zero), none ahead of the head
        swept = last_sweep - spec.slots
        if stamps is not None:
            if len(members) != len(stamps) or len(members) % 4 or len(members) > 4 * spec.exact_max:
                raise ValueError("exact distinct set is inconsistent")
            obj.keys = array("i", members + stamps)
            n = len(obj.keys) >> 1
            if n and not (swept < min(obj.keys[n:]) and max(obj.keys[n:]) <= head):
                raise ValueError("exact distinct set: a member's slot is out of the window")
            obj.count = sum(1 for slot in obj.keys[n:] if slot > oldest)
            return obj
        if len(members) != spec.bits:
            raise ValueError("distinct sketch has the wrong size")
        obj.keys = None
        obj.sketch = bytearray(members)
        hist = obj.hist = _zeros("H", spec.slots)[:]
        for stamp in bytes(members):
            if stamp:
                slot = obj._unstamp(stamp)
                if slot <= swept:
                    raise ValueError("distinct sketch: a stamp the last sweep would have cleared")
                if slot > oldest:
                    hist[slot % spec.slots] += 1
                    obj.count += 1
        return obj
