"""Zero-run compression, for the cold tier of :mod:`stream.core.actor_table`.

An actor's changelog encoding (:mod:`stream.core.actor_codec`) is ~0.9 KB of which most is
zeros: the rings and sketches of an actor that made a few requests are mostly empty. Here
each run of 1-256 zero bytes becomes two bytes (``0``, length - 1) and every other byte
stays as it is. On the bench mix that is 213 B per actor against zlib's 170 (level 1);
an actor in sketch mode (a scraper's distinct-profile sketch is not zeros) keeps ~0.9-1.4
KB against zlib's ~0.5 KB, and an entry can grow by half at worst (an isolated zero
takes two bytes).

Why not zlib: the cold tier is compressed and expanded inside the batch, in the thread
that works it beside the event loop's thread, and zlib lets go of the interpreter lock
around every call, so each call may have to wait for the lock again while the loop's
thread runs, up to the switch interval (5 ms). How long depends on scheduling: in one
measurement with another thread busy (``python -m stream.harness.bench.gil``),
``zlib.decompress`` of one entry took 753 µs (1.5 µs alone); in another, under other
load, nothing was slower. This code is compiled with the core
(``stream/core/compiled.py``) and never lets go of the lock; it is not faster than zlib
alone (squeeze ~7-23 µs, expand ~4-14 µs per entry, against zlib's ~5-9 and ~1-3). What
shows the gain is the worker: docs/performance.md, *Waiting for the interpreter lock*.
"""

from __future__ import annotations

from typing import Final

_MAX_RUN: Final = 256
# a run of k + 1 zeros is _RUNS[k]: no slice made per run
_RUNS: Final = [bytes(k + 1) for k in range(_MAX_RUN)]


def squeeze(raw: bytes) -> bytes:
    """``raw`` with each run of zero bytes as (0, run length - 1)."""
    out = bytearray()
    n = len(raw)
    i = 0
    while i < n:
        j = raw.find(b"\x00", i)
        if j < 0:
            out += raw[i:]
            break
        if j > i:
            out += raw[i:j]
        end = min(j + _MAX_RUN, n)
        k = j + 1
        while k < end and raw[k] == 0:
            k += 1
        out.append(0)
        out.append(k - j - 1)
        i = k
    return bytes(out)


def expand(data: bytes) -> bytes:
    """The bytes :func:`squeeze` made ``data`` from. Raises ValueError for data it could
    not have made (a zero without its run length)."""
    out = bytearray()
    n = len(data)
    i = 0
    while i < n:
        j = data.find(b"\x00", i)
        if j < 0:
            out += data[i:]
            break
        if j + 1 >= n:
            raise ValueError("zero run without its length")
        if j > i:
            out += data[i:j]
        out += _RUNS[data[j + 1]]
        i = j + 2
    return bytes(out)
