"""The affected-people ledger's primitives: pseudonyms, sealed ids, bounded counting.

A profile id leaves the detector only as (a) a keyed-HMAC pseudonym, stable so that
the same person is counted once, and (b) optionally a *sealed* copy, encrypted with
the ledger key, which only a holder of that key can open — that is how a privacy officer
maps the ledger back to the people to notify (``scrapeguard incidents report ID
--reveal-with KEYFILE``).

Sealing is AES-SIV (RFC 5297, AES-256) under a key derived from the ledger key, with a
16-byte nonce as its last associated-data component: a random prefix drawn once per
sealer and a counter, so no two tokens share one. SIV needs nonces neither secret nor
unpredictable, and stays safe even if two were ever equal (it then reveals only that the
two ids were, which the stable pseudonym beside each sealed id says anyway). Tokens are
``s2.`` + url-safe base64 of nonce and ciphertext.

It replaced Fernet (AES-128-CBC + HMAC-SHA256), whose tokens (``gAAAA…``) ledgers written
before still hold and :meth:`Sealer.open` still opens. Why: Fernet draws each IV with
``os.urandom``, a system call that lets go of the interpreter lock, and the detector seals
in the thread that works a batch beside the event loop's thread, so each seal could wait
for the lock up to the switch interval (5 ms): 245 µs per seal in one measurement with
another thread busy, 5.4 µs alone (``python -m stream.harness.bench.gil``; how much
depends on scheduling). ``AESSIV`` keeps the lock (~1.8 µs), and the nonce is a prefix
drawn once and a counter for the same reason. The ledger key keeps its format (32
url-safe base64 bytes, as ``scrapeguard incidents new-key`` makes it); the sealing key
is derived from the 32 bytes it decodes to, so the same key written with a trailing
newline seals alike.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import math
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from stream.core.pseudonym import Pseudonymizer
from stream.core.subkeys import derive

SEALED_PREFIX = "s2."  # an AES-SIV token; a Fernet token starts with "gAAAA"
_NONCE_BYTES = 16
_AD = b"scrapeguard ledger profile id"  # binds a token to what it seals


class Sealer:
    """Encrypts identifiers for the ledger; decrypts with the same key."""

    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)  # checks the key's format; opens older tokens
            # the 32 bytes the text stands for, decoded as Fernet decodes them, so that the
            # same key written with a newline or other padding seals and opens alike
            secret = base64.urlsafe_b64decode(key)
        except (ValueError, TypeError) as exc:
            raise ValueError(
                "the ledger key must be a Fernet key: 32 url-safe base64 bytes "
                "(make one with `scrapeguard incidents new-key`)"
            ) from exc
        # AES-256-SIV takes 64 bytes: two sub-keys of the ledger key
        self._siv = AESSIV(derive(secret, "ledger/siv/1") + derive(secret, "ledger/siv/2"))
        self._nonce_prefix = os.urandom(8)
        self._counter = itertools.count()  # next() is atomic: safe from any thread

    @staticmethod
    def new_key() -> bytes:
        return Fernet.generate_key()

    @classmethod
    def from_file(cls, path: Path) -> Sealer:
        return cls(Path(path).read_bytes().strip())

    def seal(self, value: str) -> str:
        nonce = self._nonce_prefix + next(self._counter).to_bytes(8, "big")
        sealed = self._siv.encrypt(value.encode(), [_AD, nonce])
        return SEALED_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, token: str) -> str | None:
        """The sealed id, or None when ``token`` is not one this key sealed (any input)."""
        if not isinstance(token, str):
            return None
        try:
            if not token.startswith(SEALED_PREFIX):
                return self._fernet.decrypt(token.encode()).decode()
            blob = base64.urlsafe_b64decode(token[len(SEALED_PREFIX) :].encode())
            if len(blob) <= _NONCE_BYTES:
                return None
            nonce = blob[:_NONCE_BYTES]
            return self._siv.decrypt(blob[_NONCE_BYTES:], [_AD, nonce]).decode()
        except (InvalidToken, InvalidTag, ValueError, binascii.Error):
            return None


class LedgerCodec:
    """What the detector needs to write the ledger: pseudonymise, and seal if it can."""

    def __init__(self, pseudonymizer: Pseudonymizer, sealer: Sealer | None) -> None:
        self.pseudonymizer = pseudonymizer
        self.sealer = sealer

    def profile(self, profile_id: str) -> tuple[str, str | None]:
        pseudo = self.pseudonymizer.token(profile_id, "profile")
        return pseudo, self.sealer.seal(profile_id) if self.sealer else None


class DistinctCount:
    """Exact up to ``exact_max`` distinct strings, then a HyperLogLog (4096 registers, ~1.6 %)."""

    P = 12

    def __init__(self, exact_max: int = 20_000) -> None:
        self.exact_max = exact_max
        self.exact: set[str] | None = set()
        self.registers: bytearray | None = None

    def add(self, item: str) -> bool:
        """Add; True when the item is (probably) new."""
        if self.exact is not None:
            if item in self.exact:
                return False
            self.exact.add(item)
            if len(self.exact) > self.exact_max:
                self.registers = bytearray(1 << self.P)
                for old in self.exact:
                    self._hll(old)
                self.exact = None
            return True
        return self._hll(item)

    def _hll(self, item: str) -> bool:
        assert self.registers is not None
        h = int.from_bytes(hashlib.blake2b(item.encode(), digest_size=8).digest(), "big")
        idx = h >> (64 - self.P)
        rest = (h << self.P) & ((1 << 64) - 1)
        rank = min(64 - self.P, 64 - rest.bit_length() + 1) if rest else 64 - self.P + 1
        if rank > self.registers[idx]:
            self.registers[idx] = rank
            return True
        return False

    def __len__(self) -> int:
        if self.exact is not None:
            return len(self.exact)
        assert self.registers is not None
        m = len(self.registers)
        alpha = 0.7213 / (1 + 1.079 / m)
        est = alpha * m * m / sum(2.0**-r for r in self.registers)
        zeros = self.registers.count(0)
        if est <= 2.5 * m and zeros:
            est = m * math.log(m / zeros)
        return round(est)

    @property
    def exact_count(self) -> bool:
        return self.exact is not None
