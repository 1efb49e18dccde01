"""Zero-run compression, for the cold tier of :mod:`stream.core.actor_table`.

An actor's changelog encoding (:mod:`stream.core.actor_codec`) is ~0.9 KB of which most is
zeros: the rings and sketches of an actor that made a few requests are mostly empty. Here
each run of 1-256 zero bytes becomes two bytes (``0``, length - 1) and every other byte
stays as it is. On the bench mix that is 213 B per actor against zlib's 170 (level 1).

Why not zlib: the cold tier is compressed and expanded inside the batch, in the thread
that works it beside the event loop's thread, and zlib lets go of the interpreter lock
around every call, so each one could wait for the lock again up to the switch interval
(5 ms). Measured with another thread busy: ``zlib.decompress`` of one entry 753 µs
(1.5 µs alone), ``zlib.compress`` 134 µs (9 µs alone). This code is compiled with the
core (``stream/core/compiled.py``) and keeps the lock: ~1-2 µs either way.
"""

from __future__ import annotations

from typing import Final

_MAX_RUN: Final = 256
_ZEROS: Final = bytes(_MAX_RUN)


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
        run = raw[j : j + _MAX_RUN]
        run_n = len(run) - len(run.lstrip(b"\x00"))
        out.append(0)
        out.append(run_n - 1)
        i = j + run_n
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
        out += _ZEROS[: data[j + 1] + 1]
        i = j + 2
    return bytes(out)
