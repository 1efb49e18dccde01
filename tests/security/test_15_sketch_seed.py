"""Profiles chosen to collide in the distinct-profile sketch (second sweep, S1).

Past its first few dozen distinct profiles, an actor's distinct count is a sketch: each
profile id is hashed to one of 256 (hour) or 512 (day) positions. The hash had no secret,
so whoever reads the code could list, offline, profile ids that all land on one position
and scrape only those: 3,000 of them counted as one profile, and no volume rule fired.
Now the hash starts from a seed derived from the deployment's pseudonym key
(``stream.cli.worker.configure_interpreter``), so the ids that collide under the code
without a key, or under another deployment's key, are spread like any others. What a
client writes itself (user agents, pages, account names) is hashed by a keyed BLAKE2b
(the review of the fix: CRC collisions can be made up and hold under every seed).
"""

from __future__ import annotations

import itertools
import random
import string
import zlib
from collections.abc import Iterator

import pytest

from stream.core import subkeys
from stream.core.actor_state import ActorState
from stream.core.behaviour import MAX_UAS
from stream.core.counters import DAY_DISTINCT
from stream.core.records import RequestEvent
from stream.core.windows import hash_key, keyed_hash, stable_hash, use_hash_key
from tests.helpers import T0

VIEWS = 400


@pytest.fixture()
def seed_after() -> Iterator[None]:
    before = hash_key()
    yield
    use_hash_key(before)


def colliding_ids(key: bytes, n: int) -> list[str]:
    """What an attacker computes offline: ``n`` profile ids on one sketch position
    of the day (and so of the hour: 256 divides 512) under ``key``."""
    use_hash_key(key)
    where = stable_hash("1") % DAY_DISTINCT.bits
    ids = [str(i) for i in range(1, 2_000_000) if stable_hash(str(i)) % DAY_DISTINCT.bits == where]
    assert len(ids) >= n
    return ids[:n]


def distinct_counts(ids: list[str]) -> tuple[int, int]:
    s = ActorState()
    for i, target in enumerate(ids):
        ev = RequestEvent(
            f"e{i}", T0 + i * 5.0, "account:a", "a", None, "10.0.0.1", "Mozilla/5.0", "GET",
            "/profiles/{id}", 200, target, None,
        )  # fmt: skip
        s.apply(ev, i)
    return s.counters.profiles_per_hour, s.counters.profiles_per_day


def test_profiles_chosen_to_collide_without_a_key_count_as_one(seed_after: None) -> None:
    ids = colliding_ids(b"", VIEWS)
    hour, day = distinct_counts(ids)  # the attack, against the code as it was
    assert hour <= 32 and day <= 64  # the exact sets' sizes, then one position


def test_with_the_deployments_seed_they_count_as_what_they_are(seed_after: None) -> None:
    for attackers_key in (b"", subkeys.hash_key(b"another deployment's key " * 2)):
        ids = colliding_ids(attackers_key, VIEWS)
        use_hash_key(subkeys.hash_key(b"this deployment's pseudonym key, 32 bytes+"))
        hour, day = distinct_counts(ids)
        # 400 views 5 s apart: 33 minutes, all inside the hour; the sketches' estimates
        assert hour >= 0.85 * VIEWS and day >= 0.85 * VIEWS, (attackers_key, hour, day)


def test_user_agents_made_up_to_share_a_crc_count_as_what_they_are(seed_after: None) -> None:
    """CRC-32 is linear: blocks that collide after one prefix collide after any equal
    continuation, so 3 colliding pairs give 8 user agents of one CRC (under every start
    value). The user agents an actor used are counted by a keyed BLAKE2b instead."""
    rng = random.Random(7)
    alphabet = string.ascii_letters + string.digits

    def pair(prefix: str) -> tuple[str, str]:
        seen: dict[int, str] = {}
        while True:
            b = "".join(rng.choice(alphabet) for _ in range(8))
            c = zlib.crc32((prefix + b).encode())
            if c in seen and seen[c] != b:
                return seen[c], b
            seen[c] = b

    blocks, prefix = [], "Mozilla/5.0 (X11; Linux x86_64) Build/"
    base = prefix
    for _ in range(3):
        a, b = pair(prefix)
        blocks.append((a, b))
        prefix += a
    uas = [base + "".join(choice) for choice in itertools.product(*blocks)]
    assert len({zlib.crc32(u.encode(), 12345) for u in uas}) == 1  # one CRC, any seed
    use_hash_key(subkeys.hash_key(b"this deployment's pseudonym key, 32 bytes+"))
    assert len({keyed_hash(u) for u in uas}) == 8
    s = ActorState()
    for i, ua in enumerate(uas):
        ev = RequestEvent(
            f"e{i}", T0 + i * 5.0, "account:a", "a", None, "10.0.0.1", ua, "GET", "/feed",
            200, None, None,
        )  # fmt: skip
        s.apply(ev, i)
    assert len(s.behaviour.uas) == MAX_UAS  # kept: 4 of the 8 (one with a CRC)


def test_a_key_is_at_most_64_bytes(seed_after: None) -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        use_hash_key(b"k" * 65)
