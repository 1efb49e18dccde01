"""Packs: the small records of one batch for one topic partition, sent as one Kafka record.

The detector publishes about one record per request event to its two internal agents (an
account's activity on an address for the correlator, an access by a flagged actor for
the incidents agent). Each record read through a Faust agent, and written to and stored
by the broker, costs far more than its bytes, so the worker sends them packed: one
record per partition and batch holding all of them, a JSON array of the records'
own JSON objects (``[{...},{...}]``), split at :data:`PACK_MAX_ITEMS` items or
:data:`PACK_MAX_BYTES` bytes. The partition is the one Kafka's default partitioner
picks for each item's key, so an item lands where it would have alone, and the agent's
state for that key stays in that partition.

A reader takes both: a pack, or one record's JSON object as the worker wrote them before
packs (a topic written by an earlier version). :func:`unpack` is total: anything that
is not JSON raises ``ValueError``; each item is then decoded on its own, so a bad item
costs only itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from stream.core.records import json_value

PACK_MAX_ITEMS = 1000
PACK_MAX_BYTES = 256 * 1024


def pack(values: Iterable[bytes]) -> list[bytes]:
    """``values`` (each one JSON document) as packs, in order."""
    packs: list[bytes] = []
    chunk: list[bytes] = []
    size = 0
    for value in values:
        if chunk and (len(chunk) >= PACK_MAX_ITEMS or size + len(value) > PACK_MAX_BYTES):
            packs.append(b"[" + b",".join(chunk) + b"]")
            chunk, size = [], 0
        chunk.append(value)
        size += len(value) + 1
    if chunk:
        packs.append(b"[" + b",".join(chunk) + b"]")
    return packs


def unpack(raw: bytes | None, what: str) -> list[Any]:
    """The documents a record holds: a pack's items, or the record's own document.
    ValueError, naming ``what``, when the record is not JSON or is a pack of more than
    :data:`PACK_MAX_ITEMS` items (no writer makes one: a megabyte of ``[0,0,…]`` would
    otherwise be half a million bad items)."""
    doc = json_value(raw, what)
    if not isinstance(doc, list):
        return [doc]
    if len(doc) > PACK_MAX_ITEMS:
        raise ValueError(f"{what}: a pack of {len(doc)} items, more than {PACK_MAX_ITEMS}")
    return doc
