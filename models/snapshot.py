"""Snapshots of a model's learned state: signed data, never code.

A snapshot carries the model spec, the partition it belongs to and the learned state
as plain data (:func:`models.base.state_of`, :mod:`models.state`), compressed. Whoever can
write the snapshot topic chooses these bytes, so:

1. an HMAC-SHA256 over header and payload, with a key only workers hold, is checked
   (constant time, and total: a ``mac`` of any type or alphabet is refused, never an
   exception) *before* the payload is even decompressed;
2. the payload is data, not a pickle: it is rebuilt by the model's registry entry
   (``ModelEntry.from_state``), which resolves only the exact ``(module, name)``
   classes and functions the model declares and never calls ``__reduce__``,
   ``__setstate__`` or a constructor with what it read — so even a holder of a leaked
   key cannot make a worker run code, only feed it a model state (bounded in size).

A refused snapshot raises :class:`SnapshotRefused`; the caller starts the model fresh.
Snapshots of the earlier pickle format (1) are refused the same way.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import zlib
from typing import Any

import orjson

from models.base import Scorer, state_of
from models.registry import REGISTRY, ModelSpec, Registry, UnknownModel
from models.state import StateRefused

FORMAT = 2
MAX_STATE_BYTES = 64 * 1024 * 1024  # decompressed; a bigger payload is refused unread


class SnapshotRefused(ValueError):
    """The snapshot is not signed with our key, is for another model, or is unreadable."""


def _mac(key: bytes, header: bytes, payload: bytes) -> str:
    return hmac.new(key, header + b"\x00" + payload, hashlib.sha256).hexdigest()


def mac_matches(given: object, expected: str) -> bool:
    """Constant-time comparison that is total: any ``given`` that is not the same
    ASCII hex string is False (``hmac.compare_digest`` raises on non-ASCII ``str``)."""
    if not isinstance(given, str) or not given.isascii():
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def dump(
    scorer: Scorer,
    spec: ModelSpec,
    partition: int,
    key: bytes,
    slot: str = "live",
    taken_at: float = 0.0,
    generation: str = "",
) -> bytes:
    """A signed snapshot of ``scorer``; ``generation`` names the slot's model among the
    models the slot has held (the control message that last changed it: "" for none)."""
    if not key:
        raise ValueError("a snapshot key is required")
    state = orjson.dumps(state_of(scorer))
    payload = zlib.compress(state, 6)
    header = orjson.dumps(
        {
            "format": FORMAT,
            "spec": spec.as_dict(),
            "partition": partition,
            "slot": slot,
            "taken_at": taken_at,
            "generation": generation,
        },
        option=orjson.OPT_SORT_KEYS,
    )
    return orjson.dumps(
        {
            "header": header.decode(),
            "mac": _mac(key, header, payload),
            "payload": base64.b64encode(payload).decode(),
        }
    )


def peek(blob: bytes) -> dict[str, Any]:
    """The (unverified) header: spec, partition, slot, time. For display only."""
    try:
        header = orjson.loads(orjson.loads(blob)["header"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise SnapshotRefused(f"not a snapshot: {exc}") from exc
    if not isinstance(header, dict):
        raise SnapshotRefused("not a snapshot: the header is not an object")
    return header


def _inflate(payload: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(payload, MAX_STATE_BYTES)
    except zlib.error as exc:
        raise SnapshotRefused(f"unreadable snapshot: {exc}") from None
    if inflater.unconsumed_tail or not inflater.eof:
        raise SnapshotRefused(
            f"snapshot state is larger than {MAX_STATE_BYTES} bytes, or truncated"
        )
    return data


def load(
    blob: bytes,
    key: bytes,
    expect: ModelSpec,
    partition: int,
    registry: Registry = REGISTRY,
    slot: str = "live",
    generation: str = "",
) -> Scorer:
    """Verify, then restore. Raises :class:`SnapshotRefused` for anything unexpected: a
    snapshot signed for another partition or slot too (a shadow's learned state republished
    under ``live:<p>`` would otherwise be restored as the live model), or of another of the
    slot's models than ``generation`` (a snapshot from before a redeploy of the same spec,
    which resets a model, would otherwise bring the old one back)."""
    try:
        outer = orjson.loads(blob)
        header = outer["header"].encode()
        mac = outer["mac"]
        payload = base64.b64decode(outer["payload"], validate=True)
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError) as exc:
        raise SnapshotRefused(f"not a snapshot: {exc}") from exc
    if not key or not mac_matches(mac, _mac(key, header, payload)):
        raise SnapshotRefused("bad signature: not written with this worker's snapshot key")
    try:
        meta = orjson.loads(header)
        if not isinstance(meta, dict):
            raise TypeError("header is not an object")
        spec = ModelSpec.from_dict(meta["spec"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise SnapshotRefused(f"not a snapshot header: {exc}") from None
    if meta.get("format") != FORMAT:
        raise SnapshotRefused(f"unknown snapshot format {meta.get('format')!r}")
    if spec != expect:
        raise SnapshotRefused(f"snapshot is of {meta['spec']}, not {expect.as_dict()}")
    if meta.get("partition") != partition:
        raise SnapshotRefused(f"snapshot is of partition {meta.get('partition')}")
    if meta.get("slot") != slot:
        raise SnapshotRefused(f"snapshot is of the {meta.get('slot')!r} slot, not {slot!r}")
    if meta.get("generation", "") != generation:
        raise SnapshotRefused(
            f"snapshot is of the slot's model before control message "
            f"{generation or '(none)'}, not of the model since"
        )
    try:
        state = orjson.loads(_inflate(payload))
        return registry.get(spec.name).from_state(state)
    except SnapshotRefused:
        raise
    except (StateRefused, UnknownModel, orjson.JSONDecodeError) as exc:
        raise SnapshotRefused(f"unreadable snapshot: {exc}") from None
    except Exception as exc:  # anything else in rebuilding data is still a bad snapshot
        raise SnapshotRefused(f"unreadable snapshot: {type(exc).__name__}: {exc}") from None
