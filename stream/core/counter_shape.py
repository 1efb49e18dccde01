"""What every window counter of one kind shares (:class:`Shape`): its slots, channels,
count type and the bound of its sparse form. One object per kind, so that a counter holds
a reference to it instead of its own copy (:mod:`stream.core.sliding_counter`).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import ClassVar

from stream.core.shared_values import saturation, size_of

CELL_MAX = 0xFFFFFFFF  # the sparse form's slot numbers and counts are uint32


class Shape:
    """What every counter of one kind shares: slots of ``slot_s`` seconds, ``channels``
    counts per slot of ``typecode``, the value a count saturates at (``cap``), and the
    sparse groups (slot + counts) kept before a dense ring is smaller (``max_cells``; 0:
    always dense)."""

    __slots__ = (
        "cap",
        "channels",
        "itemsize",
        "max_cells",
        "pack_group",
        "slot_s",
        "slots",
        "typecode",
    )
    _kinds: ClassVar[dict[tuple[int, float, int, str, bool], Shape]] = {}

    def __init__(
        self, slots: int, slot_s: float, channels: int, typecode: str, sparse: bool
    ) -> None:
        self.slots, self.slot_s, self.channels, self.typecode = slots, slot_s, channels, typecode
        self.cap = cap = saturation(typecode)
        self.itemsize = size_of(typecode)
        groups = slots * channels * self.itemsize // (2 * 4 * (1 + channels))
        self.max_cells = groups if sparse and cap <= CELL_MAX else 0
        # one slot's counts as an array of the typecode holds them (native order)
        self.pack_group: Callable[..., None] = struct.Struct(f"={channels}{typecode}").pack_into

    @staticmethod
    def of(slots: int, slot_s: float, channels: int, typecode: str, sparse: bool) -> Shape:
        """The one shared shape of this kind."""
        key = (slots, slot_s, channels, typecode, sparse)
        shape = Shape._kinds.get(key)
        if shape is None:
            shape = Shape._kinds[key] = Shape(slots, slot_s, channels, typecode, sparse)
        return shape
