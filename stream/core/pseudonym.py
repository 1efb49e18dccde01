"""Keyed-HMAC pseudonyms for identifiers of people (accounts, sessions, IPs, profiles).

The same identifier always maps to the same pseudonym under one key, so logs and
reports can still be correlated; only a holder of the key can check which raw id a
pseudonym stands for (by recomputing it).

Each kind of identifier has a key of its own, derived from the pseudonym key
(:func:`stream.core.subkeys.derive`), so account ``123`` and profile ``123`` do not
share a pseudonym, and a pseudonym of one kind says nothing about the other kinds.
Nothing is taken to be a pseudonym already because of how it looks (an account id
may well start with ``p_``).

Where decisions and incidents name a group of addresses, an IPv4 /24 stays readable:
256 addresses are shared by many people (a carrier, an office, a hosting range) and
enforcement and abuse reports act on the range. A single IP and an IPv6 /64 (usually
one subscriber's line) are pseudonymised. ``README.md`` (threat model) says so.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from stream.core.subkeys import derive

KINDS = ("account", "session", "ip", "profile", "subnet", "actor")
_ACTOR_KINDS = {"account:": "account", "session:": "session", "ip:": "ip"}


class Pseudonymizer:
    """``actor("account:42") == "account:p_3f0c…"``; one derived key per kind.

    ``enabled`` only tells the log processor whether to pseudonymise
    (``SCRAPEGUARD_LOG_RAW_IDENTIFIERS``); decision reasons, incident keys, samples and
    the ledger are always pseudonymised.
    """

    def __init__(self, key: bytes, enabled: bool = True) -> None:
        if not key:
            raise ValueError("a pseudonym key is required")
        self.enabled = enabled
        self._keys = {kind: derive(key, f"pseudonym/{kind}") for kind in KINDS}
        self._cached = lru_cache(maxsize=65536)(self._compute)

    def _compute(self, value: str, kind: str) -> str:
        digest = hmac.new(self._keys[kind], value.encode(), hashlib.sha256).hexdigest()[:20]
        return "p_" + digest

    def token(self, value: str, kind: str) -> str:
        """Pseudonym of a bare identifier of ``kind`` (account, session, ip, profile)."""
        return self._cached(value, kind)

    def actor(self, actor: str) -> str:
        """Pseudonym of an actor key, keeping its kind (and tenant) readable."""
        tenant, sep, rest = actor.partition("/") if "/" in actor else ("", "", actor)
        for prefix, kind in _ACTOR_KINDS.items():
            if rest.startswith(prefix):
                return f"{tenant}{sep}{prefix}{self.token(rest[len(prefix):], kind)}"
        return self.token(actor, "actor")

    def subnet(self, network: str) -> str:
        """An IPv4 /24 as it is (see the module docstring); anything else pseudonymised."""
        if ":" not in network and network.endswith("/24"):
            return network
        return self.token(network, "subnet")

    def group(self, group: str) -> str:
        """A correlation group: ``ip:<address>`` or ``subnet:<network>``."""
        kind, sep, where = group.partition(":")
        if kind == "ip" and sep:
            return "ip:" + self.token(where, "ip")
        if kind == "subnet" and sep:
            return "subnet:" + self.subnet(where)
        return self.token(group, "actor")

    def where(self, group: str) -> str:
        """What a reason names of a group: the pseudonym or range, without the kind."""
        return self.group(group).partition(":")[2]
