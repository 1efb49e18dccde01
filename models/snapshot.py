"""Snapshots of a model's learned state: signed, and loaded only through an allowlist.

A snapshot carries the model spec, the partition it belongs to and the learned
state. River models are plain Python objects, so the state is pickled — and a pickle
is code. Two locks keep it from becoming a way in:

1. an HMAC-SHA256 over spec, partition and payload, with a key only workers hold, is
   checked (constant time) *before* anything is unpickled: a snapshot written by
   anyone else is refused;
2. the unpickler resolves only classes from an allowlist (River, this package, a few
   standard containers and NumPy's array reconstruction), never ``os``, ``eval`` & co,
   so even a leaked key does not give arbitrary code execution through ``__reduce__``.

A refused snapshot raises :class:`SnapshotRefused`; the caller starts the model fresh.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import pickle
import zlib
from typing import Any

import orjson

from models.base import Scorer
from models.registry import ModelSpec

FORMAT = 1

_ALLOWED_MODULE_PREFIXES = ("river.", "models.")
_ALLOWED = {
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "dict"),
    ("builtins", "list"),
    ("builtins", "tuple"),
    ("builtins", "float"),
    ("builtins", "int"),
    ("builtins", "complex"),
    ("builtins", "bytearray"),
    ("builtins", "slice"),
    ("builtins", "range"),
    ("collections", "defaultdict"),
    ("collections", "deque"),
    ("collections", "OrderedDict"),
    ("collections", "Counter"),
    ("functools", "partial"),
    ("random", "Random"),
    ("copyreg", "_reconstructor"),
    ("builtins", "object"),
    ("numpy", "dtype"),
    ("numpy", "ndarray"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
}
_DENIED_NAMES = {
    "eval",
    "exec",
    "compile",
    "open",
    "__import__",
    "getattr",
    "setattr",
    "system",
    "popen",
    "input",
}


class SnapshotRefused(ValueError):
    """The snapshot is not signed with our key, is for another model, or is unreadable."""


class _AllowlistUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if name in _DENIED_NAMES:
            raise SnapshotRefused(f"snapshot refers to forbidden {module}.{name}")
        if (module, name) in _ALLOWED or module.startswith(_ALLOWED_MODULE_PREFIXES):
            return super().find_class(module, name)
        raise SnapshotRefused(f"snapshot refers to {module}.{name}, which is not allowed")


def _mac(key: bytes, header: bytes, payload: bytes) -> str:
    return hmac.new(key, header + b"\x00" + payload, hashlib.sha256).hexdigest()


def dump(
    scorer: Scorer,
    spec: ModelSpec,
    partition: int,
    key: bytes,
    slot: str = "live",
    taken_at: float = 0.0,
) -> bytes:
    if not key:
        raise ValueError("a snapshot key is required")
    payload = zlib.compress(pickle.dumps(scorer, protocol=pickle.HIGHEST_PROTOCOL), 6)
    header = orjson.dumps(
        {
            "format": FORMAT,
            "spec": spec.as_dict(),
            "partition": partition,
            "slot": slot,
            "taken_at": taken_at,
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
        return orjson.loads(orjson.loads(blob)["header"])
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise SnapshotRefused(f"not a snapshot: {exc}") from exc


def load(blob: bytes, key: bytes, expect: ModelSpec, partition: int) -> Scorer:
    """Verify, then restore. Raises :class:`SnapshotRefused` for anything unexpected."""
    try:
        outer = orjson.loads(blob)
        header = outer["header"].encode()
        mac = outer["mac"]
        payload = base64.b64decode(outer["payload"], validate=True)
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError) as exc:
        raise SnapshotRefused(f"not a snapshot: {exc}") from exc
    if (
        not key
        or not isinstance(mac, str)
        or not hmac.compare_digest(mac, _mac(key, header, payload))
    ):
        raise SnapshotRefused("bad signature: not written with this worker's snapshot key")
    meta = orjson.loads(header)
    if meta.get("format") != FORMAT:
        raise SnapshotRefused(f"unknown snapshot format {meta.get('format')}")
    if ModelSpec.from_dict(meta["spec"]) != expect:
        raise SnapshotRefused(f"snapshot is of {meta['spec']}, not {expect.as_dict()}")
    if meta.get("partition") != partition:
        raise SnapshotRefused(f"snapshot is of partition {meta.get('partition')}")
    try:
        scorer = _AllowlistUnpickler(io.BytesIO(zlib.decompress(payload))).load()
    except SnapshotRefused:
        raise
    except Exception as exc:  # unpickling arbitrary bytes can raise almost anything
        raise SnapshotRefused(f"unreadable snapshot: {type(exc).__name__}: {exc}") from exc
    if not isinstance(scorer, Scorer):
        raise SnapshotRefused("snapshot does not hold a scorer")
    return scorer
