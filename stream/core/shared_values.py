"""Small values every window shares instead of holding its own: one array of zeros per
shape (:func:`zeros`), one int object per recent slot number (:func:`shared_int`), and a
typecode's saturation value and item size. Used by :mod:`stream.core.sliding_counter` and
:mod:`stream.core.windows`: the per-actor memory they save is in docs/performance.md.
"""

from __future__ import annotations

from array import array

_ZEROS: dict[tuple[str, int], array[int]] = {}


def zeros(typecode: str, n: int) -> array[int]:
    """A shared array of ``n`` zeros (copy it with ``[:]``: one allocation, no bytes)."""
    z = _ZEROS.get((typecode, n))
    if z is None:
        z = _ZEROS[(typecode, n)] = array(typecode, bytes(array(typecode).itemsize * n))
    return z


_CAPS: dict[str, int] = {}  # saturation value per typecode: one int object, shared


def saturation(typecode: str) -> int:
    cap = _CAPS.get(typecode)
    if cap is None:
        cap = _CAPS[typecode] = (1 << (8 * array(typecode).itemsize)) - 1
    return cap


def size_of(typecode: str) -> int:
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
