"""Bouncer API keys: made once, shown once, stored as a SHA-256 hash.

A key is 32 random bytes (``sg_`` + URL-safe base64), so a fast hash is enough: there is
nothing to guess from the hash, and checking a key costs a microsecond on the hot path of
``/check``. The registry is built by every worker from the compacted ``<app>-bouncers``
topic (a tombstone deletes a bouncer).
"""

from __future__ import annotations

import hashlib
import re
import secrets

from stream.core.operator_records import BouncerKey

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def new_key() -> str:
    return "sg_" + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    # any string hashes (a header's bytes that are not UTF-8 arrive as lone surrogates)
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise ValueError(
            f"{name[:80]!r} is not a bouncer name: letters, digits, '.', '_', '-' "
            "(at most 64, starting with a letter or digit)"
        )
    return name


class BouncerRegistry:
    """Name → hashed key, and the reverse for authentication."""

    def __init__(self) -> None:
        self.by_name: dict[str, BouncerKey] = {}
        self._by_hash: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self.by_name)

    def put(self, name: str, record: BouncerKey | None) -> None:
        """The newest record for ``name``; None (a tombstone) deletes it."""
        old = self.by_name.pop(name, None)
        if old is not None:
            self._by_hash.pop(old.key_sha256, None)
        if record is not None:
            self.by_name[name] = record
            self._by_hash[record.key_sha256] = name

    def name_for(self, key: str) -> str | None:
        """The bouncer holding ``key``, or None."""
        if not key or len(key) > 200:
            return None
        return self._by_hash.get(hash_key(key))
