"""One partition's per-actor state, in two tiers: recently used actors decoded, the rest
compressed.

A decoded :class:`~stream.core.actor_state.ActorState` is ~1.8 KB of Python objects for
the bench mix (sparse window counters, arrays, boxed numbers); its changelog encoding
with its zero runs squeezed (:mod:`stream.core.zero_runs`) is ~100–300 B, because the
rings of an actor that made a few requests are mostly zeros (~0.9–1.4 KB for an actor in
sketch mode). The table keeps at most
``hot_max`` actors decoded and compresses the rest after each batch, so memory grows by a
few hundred bytes per additional actor instead of kilobytes. Touching a compressed actor
costs a decode (~15 µs) once, after which it is decoded again; the hot tier should hold
the actors active within a few batches. Which actors stay decoded is a segmented
least-recently-used order (see :class:`ActorTable`): actors that come back in a later
batch are kept before new ones, so that a flood of one-off actors does not push out the
ones that return (each of which would then pay a decode per visit).

The table is bounded as a whole too: beyond ``max_actors`` the least recently active
actors are evicted (an attacker can make up actors — IPv6 addresses, sessions — far
faster than the idle expiry drops them); :meth:`ActorTable.take_evicted` hands their
keys to the caller, which tombstones them in the changelog and counts them.

The encoding is :mod:`stream.core.actor_codec` (the changelog's), so an actor's behaviour
does not depend on the tier it is in (``tests/core/test_actor_table.py`` checks this
by running a stream with one hot actor against one with all of them).

A restore puts each actor's changelog bytes in the cold tier as they were read
(:meth:`ActorTable.put_encoded`: a check of the version, the length and the newest event
time, ~1 µs, where a decode, the hot tier and a compression took ~45 µs); the actor is
decoded when it is first used, and :meth:`ActorTable.trim` compresses at most
``raw_per_trim`` of these raw entries each time, the least recently restored first, so
that the ~0.9 KB of a raw entry shrinks to the compressed size while the partition works.
The changelog is a topic anyone with write access can fill: a raw entry that passed the
check and still does not decode is dropped (the actor starts fresh, as with an unreadable
record at restore), counted in ``unreadable`` and logged once — never an exception out of
a batch.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Iterator
from itertools import islice

import structlog

from stream.core.actor_codec import LAST_TS_OFFSET, decode, encode, newest_ts
from stream.core.actor_state import ActorState
from stream.core.zero_runs import expand, squeeze

log = structlog.get_logger(__name__)

# A cold entry is either compressed — this tag (no codec version is 0), the actor's newest
# event time (for expiry) and its encoding squeezed (stream.core.zero_runs) — or the
# encoding itself as the changelog held it (version 3 or 4, its newest event time at
# LAST_TS_OFFSET).
_PACKED = 0
_PACKED_HEAD = struct.Struct("<Bd")
_LAST_TS = struct.Struct("<d")
# raw entries compressed per trim: ~8-23 µs each, so ~1-3 ms per batch of a partition
# until all are (1M restored actors over 8 partitions: ~1,000 batches each)
RAW_PER_TRIM = 128


def freeze(state: ActorState) -> bytes:
    """The compressed form of ``state``, led by its newest event time (for expiry)."""
    return _PACKED_HEAD.pack(_PACKED, state.last_ts) + squeeze(encode(state))


def pack(raw: bytes) -> bytes:
    """The compressed form of a raw entry (changelog bytes), without decoding it."""
    return _PACKED_HEAD.pack(_PACKED, _LAST_TS.unpack_from(raw, LAST_TS_OFFSET)[0]) + (
        squeeze(raw)
    )


def thaw(blob: bytes) -> ActorState:
    """The state of a cold entry, compressed or raw. Raises ValueError."""
    if blob[0] != _PACKED:
        return decode(blob)
    try:
        raw = expand(blob[_PACKED_HEAD.size :])
    except ValueError as exc:
        raise ValueError(f"corrupt cold entry: {exc}") from exc
    return decode(raw)


def entry_ts(blob: bytes) -> float:
    """The newest event time of a cold entry, compressed or raw."""
    offset = 1 if blob[0] == _PACKED else LAST_TS_OFFSET
    return float(_LAST_TS.unpack_from(blob, offset)[0])


class ActorTable:
    """Actor → state, at most ``hot_max`` of them decoded and ``max_actors`` in all.

    The decoded actors are two segments (a segmented LRU): *probation*, at most half of
    ``hot_max``, for new actors (first seen in this batch or since their last trim), and
    *protected*, the rest, for actors that came back in a later batch, whether they were
    still decoded or had been compressed. Past its size, protected hands its least
    recently used actors back to probation, and probation compresses its least recently
    used. So a flood of actors seen once (made-up sessions, one-off visitors, a crawler's
    sweep) cycles through probation and compresses there, and an actor that comes back is
    decoded at most once more before it holds a protected place.
    """

    __slots__ = (
        "_cold",
        "_evicted",
        "_fresh",
        "_hot",
        "_probation",
        "_raw",
        "_reported",
        "hot_max",
        "max_actors",
        "probation_max",
        "raw_per_trim",
        "unreadable",
    )

    def __init__(
        self, hot_max: int, max_actors: int | None = None, raw_per_trim: int = RAW_PER_TRIM
    ) -> None:
        if hot_max < 1:
            raise ValueError("hot_max must be at least 1")
        if max_actors is not None and max_actors < 1:
            raise ValueError("max_actors must be at least 1")
        self.hot_max = hot_max
        self.probation_max = max(1, hot_max // 2)
        self.max_actors = max_actors
        self.raw_per_trim = raw_per_trim
        # plain dicts in least-recently-used order (an actor used is moved to the end by
        # taking it out and putting it back): half the bytes of an OrderedDict's entry.
        # _hot is the protected segment, _probation the other (see the class)
        self._hot: dict[str, ActorState] = {}
        self._probation: dict[str, ActorState] = {}
        self._fresh: set[str] = set()  # actors put on probation in this batch
        # insertion order is the order actors left the hot tier: least recently used first
        self._cold: dict[str, bytes] = {}
        self._evicted: list[str] = []
        # actors restored raw, in the order they were, not yet compressed (some may have
        # been used, compressed or dropped since: checked when their turn comes)
        self._raw: deque[str] = deque()
        self._reported: set[str] = set()  # cold entries found unreadable by peek, kept
        self.unreadable = 0  # cold entries that did not decode (see take_unreadable)

    def __len__(self) -> int:
        return len(self._hot) + len(self._probation) + len(self._cold)

    def __contains__(self, actor: object) -> bool:
        return actor in self._hot or actor in self._probation or actor in self._cold

    def __iter__(self) -> Iterator[str]:
        yield from list(self._hot)
        yield from list(self._probation)
        yield from list(self._cold)

    @property
    def hot(self) -> int:
        """Actors held decoded (both segments)."""
        return len(self._hot) + len(self._probation)

    @property
    def protected(self) -> int:
        """Actors held decoded that came back in a later batch (see the class)."""
        return len(self._hot)

    @property
    def raw(self) -> int:
        """Restored actors whose entry is still the uncompressed changelog bytes (at most)."""
        return len(self._raw)

    def get(self, actor: str) -> ActorState | None:
        """The actor's state for an update: decoded if needed, and now most recently used.

        None for an unknown actor, and for one whose cold entry does not decode (dropped:
        the caller starts it fresh)."""
        hot = self._hot
        state = hot.pop(actor, None)
        if state is not None:
            hot[actor] = state  # now the most recently used
            return state
        state = self._probation.pop(actor, None)
        if state is not None:
            if actor in self._fresh:
                self._probation[actor] = state  # the same batch: still on probation
            else:
                hot[actor] = state  # back in a later batch: protected
            return state
        blob = self._cold.pop(actor, None)
        if blob is None:
            return None
        try:
            state = thaw(blob)
        except ValueError as exc:
            if actor in self._reported:
                self._reported.discard(actor)
            else:
                self._unreadable(exc)
            return None
        hot[actor] = state  # compressed at an earlier trim: back in a later batch
        return state

    def peek(self, actor: str) -> ActorState | None:
        """The actor's state to read (explain, audits) without changing its tier.

        A compressed actor comes back as a fresh copy: changes to it are not kept. An
        unreadable cold entry reads as None (counted and logged the first time).
        """
        state = self._hot.get(actor)
        if state is None:
            state = self._probation.get(actor)
        if state is not None:
            return state
        blob = self._cold.get(actor)
        if blob is None:
            return None
        try:
            return thaw(blob)
        except ValueError as exc:
            if actor not in self._reported:
                self._reported.add(actor)
                self._unreadable(exc)
            return None

    def _unreadable(self, exc: ValueError) -> None:
        self.unreadable += 1
        log.warning("actor_state_unreadable", tier="cold", error=str(exc))

    def take_unreadable(self) -> int:
        """Cold entries found unreadable since the last call."""
        n, self.unreadable = self.unreadable, 0
        return n

    def put(self, actor: str, state: ActorState) -> None:
        """A new state for ``actor`` (on probation, as a new actor's)."""
        if self._cold.pop(actor, None) is not None:
            self._reported.discard(actor)
        self._hot.pop(actor, None)
        self._probation.pop(actor, None)
        self._probation[actor] = state
        self._fresh.add(actor)

    def put_encoded(self, actor: str, blob: bytes) -> float:
        """An actor's changelog bytes into the cold tier as they are (restore); its newest
        event time. Raises ValueError (and keeps nothing) if they fail the cheap check of
        :func:`~stream.core.actor_codec.newest_ts`; beyond ``max_actors`` the least recently
        used are evicted, as by :meth:`trim`."""
        last_ts = newest_ts(blob)
        self._hot.pop(actor, None)
        self._probation.pop(actor, None)
        self._cold.pop(actor, None)
        self._cold[actor] = blob
        self._raw.append(actor)
        self._evict()
        return last_ts

    def pop(self, actor: str) -> None:
        if self._hot.pop(actor, None) is None and self._probation.pop(actor, None) is None:
            self._cold.pop(actor, None)
        self._reported.discard(actor)

    def trim(self) -> int:
        """After a batch: hand the protected segment's least recently used beyond its size
        to probation, compress probation's beyond its own (how many were), compress up to
        ``raw_per_trim`` raw entries, then evict the least recently used beyond
        ``max_actors``."""
        hot, probation, cold = self._hot, self._probation, self._cold
        self._fresh.clear()
        n = len(hot) - (self.hot_max - self.probation_max)
        if n > 0:
            for actor in list(islice(hot, n)):  # the least recently used first
                probation[actor] = hot.pop(actor)
        n = len(probation) - self.probation_max
        if n > 0:
            for actor in list(islice(probation, n)):
                state = probation.pop(actor)
                try:
                    cold[actor] = freeze(state)
                except Exception as exc:  # one state must never stop the partition
                    log.error("actor_state_unencodable", error=f"{type(exc).__name__}: {exc}")
                    self._evicted.append(actor)  # dropped: tombstoned and counted
        if self._raw:
            self.pack_raw(self.raw_per_trim)
        self._evict()
        return max(n, 0)

    def pack_raw(self, budget: int | None = None) -> None:
        """Compress up to ``budget`` raw entries (all: None), the least recently restored
        first."""
        raw, cold = self._raw, self._cold
        if budget is None:
            budget = len(raw)
        while budget > 0 and raw:
            actor = raw.popleft()
            blob = cold.get(actor)
            if blob is not None and blob[0] != _PACKED:
                cold[actor] = pack(blob)  # same key: its place in the order is kept
                budget -= 1

    def _evict(self) -> None:
        cap = self.max_actors
        if cap is None:
            return
        hot, probation, cold = self._hot, self._probation, self._cold
        for _ in range(len(hot) + len(probation) + len(cold) - cap):
            if cold:
                actor = next(iter(cold))
                del cold[actor]
            elif probation:
                actor = next(iter(probation))
                del probation[actor]
            else:
                actor = next(iter(hot))
                del hot[actor]
            self._reported.discard(actor)
            self._evicted.append(actor)

    def take_evicted(self) -> list[str]:
        """Actors evicted by the bound, or dropped because they did not encode, since the
        last call."""
        out, self._evicted = self._evicted, []
        return out

    def last_seen(self) -> Iterator[tuple[str, float]]:
        """``(actor, newest event time)`` of every actor, without decoding any."""
        for actor, state in self._hot.items():
            yield actor, state.last_ts
        for actor, state in self._probation.items():
            yield actor, state.last_ts
        for actor, blob in self._cold.items():
            yield actor, entry_ts(blob)

    def items(self) -> Iterator[tuple[str, ActorState]]:
        """Every actor with its state (compressed ones as copies, see :meth:`peek`)."""
        for actor in self:
            state = self.peek(actor)
            if state is not None:
                yield actor, state
