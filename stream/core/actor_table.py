"""One partition's per-actor state, in two tiers: recently used actors decoded, the rest
compressed.

A decoded :class:`~stream.core.actor_state.ActorState` is ~1.9 KB of Python objects for
the bench mix (sparse window counters, arrays, boxed numbers); its changelog encoding
compressed with zlib is ~100–300 B, because the rings of an actor that made a few requests
are mostly zeros. The table keeps at most ``hot_max`` actors decoded, in least-recently-used
order, and compresses the rest after each batch, so memory grows by a few hundred bytes per
additional actor instead of kilobytes. Touching a compressed actor costs a decode (~15 µs)
once, after which it is hot again; the hot tier should hold the actors active within a
few batches.

The table is bounded as a whole too: beyond ``max_actors`` the least recently active
actors are evicted (an attacker can make up actors — IPv6 addresses, sessions — far
faster than the idle expiry drops them); :meth:`ActorTable.take_evicted` hands their
keys to the caller, which tombstones them in the changelog and counts them.

The encoding is :mod:`stream.core.actor_codec` (the changelog's), so an actor's behaviour
does not depend on the tier it is in (``tests/core/test_actor_table.py`` checks this
by running a stream with one hot actor against one with all of them).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from itertools import islice

from stream.core.actor_codec import decode, encode
from stream.core.actor_state import ActorState

_LAST_TS = struct.Struct("<d")  # a cold entry starts with the actor's newest event time


def freeze(state: ActorState) -> bytes:
    """The compressed form of ``state``, led by its newest event time (for expiry)."""
    return _LAST_TS.pack(state.last_ts) + zlib.compress(encode(state), 1)


def thaw(blob: bytes) -> ActorState:
    return decode(zlib.decompress(memoryview(blob)[_LAST_TS.size :]))


class ActorTable:
    """Actor → state, at most ``hot_max`` of them decoded and ``max_actors`` in all."""

    __slots__ = ("_cold", "_evicted", "_hot", "hot_max", "max_actors")

    def __init__(self, hot_max: int, max_actors: int | None = None) -> None:
        if hot_max < 1:
            raise ValueError("hot_max must be at least 1")
        if max_actors is not None and max_actors < 1:
            raise ValueError("max_actors must be at least 1")
        self.hot_max = hot_max
        self.max_actors = max_actors
        # a plain dict in least-recently-used order (an actor used is moved to the end by
        # taking it out and putting it back): half the bytes of an OrderedDict's entry
        self._hot: dict[str, ActorState] = {}
        # insertion order is the order actors left the hot tier: least recently used first
        self._cold: dict[str, bytes] = {}
        self._evicted: list[str] = []

    def __len__(self) -> int:
        return len(self._hot) + len(self._cold)

    def __contains__(self, actor: object) -> bool:
        return actor in self._hot or actor in self._cold

    def __iter__(self) -> Iterator[str]:
        yield from list(self._hot)
        yield from list(self._cold)

    @property
    def hot(self) -> int:
        """Actors held decoded."""
        return len(self._hot)

    def get(self, actor: str) -> ActorState | None:
        """The actor's state for an update: decoded if needed, and now most recently used."""
        hot = self._hot
        state = hot.pop(actor, None)
        if state is not None:
            hot[actor] = state  # now the most recently used
            return state
        blob = self._cold.pop(actor, None)
        if blob is None:
            return None
        state = hot[actor] = thaw(blob)
        return state

    def peek(self, actor: str) -> ActorState | None:
        """The actor's state to read (explain, audits) without changing its tier.

        A compressed actor comes back as a fresh copy: changes to it are not kept.
        """
        state = self._hot.get(actor)
        if state is not None:
            return state
        blob = self._cold.get(actor)
        return None if blob is None else thaw(blob)

    def put(self, actor: str, state: ActorState) -> None:
        self._cold.pop(actor, None)
        self._hot.pop(actor, None)
        self._hot[actor] = state

    def pop(self, actor: str) -> None:
        if self._hot.pop(actor, None) is None:
            self._cold.pop(actor, None)

    def trim(self) -> int:
        """Compress the least recently used actors beyond ``hot_max`` (how many were),
        then evict the least recently used beyond ``max_actors``."""
        hot, cold = self._hot, self._cold
        n = len(hot) - self.hot_max
        if n > 0:
            for actor in list(islice(hot, n)):  # the least recently used first
                cold[actor] = freeze(hot.pop(actor))
        cap = self.max_actors
        if cap is not None:
            for _ in range(len(hot) + len(cold) - cap):
                if cold:
                    actor = next(iter(cold))
                    del cold[actor]
                else:
                    actor = next(iter(hot))
                    del hot[actor]
                self._evicted.append(actor)
        return max(n, 0)

    def take_evicted(self) -> list[str]:
        """Actors evicted by the bound since the last call."""
        out, self._evicted = self._evicted, []
        return out

    def last_seen(self) -> Iterator[tuple[str, float]]:
        """``(actor, newest event time)`` of every actor, without decoding any."""
        for actor, state in self._hot.items():
            yield actor, state.last_ts
        unpack = _LAST_TS.unpack_from
        for actor, blob in self._cold.items():
            yield actor, unpack(blob)[0]

    def items(self) -> Iterator[tuple[str, ActorState]]:
        """Every actor with its state (compressed ones as copies, see :meth:`peek`)."""
        for actor in self:
            state = self.peek(actor)
            if state is not None:
                yield actor, state
