"""Keyed-HMAC pseudonyms for identifiers of people (accounts, sessions, IPs, profiles).

The same identifier always maps to the same pseudonym under one key, so logs and
reports can still be correlated; only a holder of the key can check which raw id a
pseudonym stands for (by recomputing it).
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

_PREFIXES = ("account:", "session:", "ip:")


class Pseudonymizer:
    """``pseudonym("account:42") == "account:p_3f0c…"``; idempotent on pseudonyms."""

    def __init__(self, key: bytes, enabled: bool = True) -> None:
        if enabled and not key:
            raise ValueError("a pseudonym key is required")
        self._key = key
        self.enabled = enabled
        self._cached = lru_cache(maxsize=65536)(self._compute)

    def _compute(self, value: str) -> str:
        digest = hmac.new(self._key, value.encode(), hashlib.sha256).hexdigest()[:20]
        return "p_" + digest

    def token(self, value: str) -> str:
        """Pseudonym of a bare identifier."""
        if not self.enabled or value.startswith("p_"):
            return value
        return self._cached(value)

    def token_always(self, value: str) -> str:
        """Pseudonym regardless of ``enabled`` (the ledger never holds raw ids)."""
        return self._cached(value)

    def actor(self, actor: str) -> str:
        """Pseudonym of an actor key, keeping its kind (and tenant) readable."""
        if not self.enabled:
            return actor
        tenant, sep, rest = actor.rpartition("/")
        for prefix in _PREFIXES:
            if rest.startswith(prefix):
                return f"{tenant}{sep}{prefix}{self.token(rest[len(prefix) :])}"
        return self.token(actor)
