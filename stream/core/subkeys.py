"""Keys for one purpose each, derived from the keys an operator configures.

``derive(key, label)`` is HMAC-SHA256(key, ``"scrapeguard/" + label``): knowing a
derived key reveals neither the key it came from nor keys derived with other labels.
Used for one pseudonym key per kind of identifier (account, session, ip, profile),
and for the member-record and worker-to-worker keys derived from the control key.
"""

from __future__ import annotations

import hashlib
import hmac


def derive(key: bytes, label: str) -> bytes:
    """The sub-key of ``key`` for ``label``."""
    return hmac.new(key, b"scrapeguard/" + label.encode(), hashlib.sha256).digest()


def hash_key(key: bytes) -> bytes:
    """The key of the distinct-count and behaviour hashes (:mod:`stream.core.windows`)
    under ``key``: which items collide is then the deployment's secret."""
    return derive(key, "sketch-hash")
