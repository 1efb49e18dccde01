"""The affected-people ledger's primitives: pseudonyms, sealed ids, bounded counting.

A profile id leaves the detector only as (a) a keyed-HMAC pseudonym, stable so that
the same person is counted once, and (b) optionally a *sealed* copy, encrypted with
the ledger key (Fernet: AES-128-CBC + HMAC-SHA256), which only a holder of that key
can open — that is how a privacy officer maps the ledger back to the people to notify
(``scrapeguard incidents report ID --reveal-with KEYFILE``).
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from stream.core.pseudonym import Pseudonymizer


class Sealer:
    """Encrypts identifiers for the ledger; decrypts with the same key."""

    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError) as exc:
            raise ValueError(
                "the ledger key must be a Fernet key: 32 url-safe base64 bytes "
                "(make one with `scrapeguard incidents new-key`)"
            ) from exc

    @staticmethod
    def new_key() -> bytes:
        return Fernet.generate_key()

    @classmethod
    def from_file(cls, path: Path) -> Sealer:
        return cls(Path(path).read_bytes().strip())

    def seal(self, value: str) -> str:
        return self._fernet.encrypt(value.encode()).decode()

    def open(self, token: str) -> str | None:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except (InvalidToken, ValueError):
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
