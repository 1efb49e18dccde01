"""Records signed with HMAC-SHA256: the body, canonical JSON with sorted keys, plus ``sig``
(hex). Control messages, operators' manual decisions and member records are signed so;
each kind under its own key (:mod:`stream.core.subkeys`)."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import orjson


def mac(key: bytes, body: dict[str, Any]) -> str:
    """The hex HMAC-SHA256 of ``body`` as canonical JSON (sorted keys)."""
    return hmac.new(
        key, orjson.dumps(body, option=orjson.OPT_SORT_KEYS), hashlib.sha256
    ).hexdigest()


def sign(body: dict[str, Any], key: bytes) -> bytes:
    """The record as sent: ``body`` plus ``sig``."""
    return orjson.dumps({**body, "sig": mac(key, body)})


def signature_matches(given: object, expected: str) -> bool:
    """Constant time, and total: anything but the same ASCII hex string is False."""
    if not isinstance(given, str) or not given.isascii():
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def record_mac(key: bytes, body: dict[str, Any]) -> str | None:
    """:func:`mac` of a record read from a topic; None when its body cannot be written
    again as JSON (orjson refuses nesting past 254 levels): no signature can match."""
    try:
        return mac(key, body)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return None


def signed_with(doc: dict[str, Any], key: bytes) -> bool:
    """Whether the decoded record ``doc`` carries a ``sig`` of its other fields under
    ``key``; ``sig`` is taken out of ``doc``. Total."""
    given = doc.pop("sig", None)
    expected = record_mac(key, doc)
    return expected is not None and signature_matches(given, expected)
