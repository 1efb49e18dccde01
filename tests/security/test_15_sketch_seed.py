"""Profiles chosen to collide in the distinct-profile sketch (second sweep, S1).

Past its first few dozen distinct profiles, an actor's distinct count is a sketch: each
profile id is hashed to one of 256 (hour) or 512 (day) positions. The hash had no secret,
so whoever reads the code could list, offline, profile ids that all land on one position
and scrape only those: 3,000 of them counted as one profile, and no volume rule fired.
Now the hash starts from a seed derived from the deployment's pseudonym key
(``stream.cli.worker.configure_interpreter``), so the ids that collide under the code
without a key, or under another deployment's key, are spread like any others.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stream.core import subkeys
from stream.core.actor_state import ActorState
from stream.core.counters import DAY_DISTINCT
from stream.core.records import RequestEvent
from stream.core.windows import hash_seed, stable_hash, use_hash_seed
from tests.helpers import T0

VIEWS = 400


@pytest.fixture()
def seed_after() -> Iterator[None]:
    before = hash_seed()
    yield
    use_hash_seed(before)


def colliding_ids(seed: int, n: int) -> list[str]:
    """What an attacker computes offline: ``n`` profile ids on one sketch position
    of the day (and so of the hour: 256 divides 512) under ``seed``."""
    use_hash_seed(seed)
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
    ids = colliding_ids(0, VIEWS)
    hour, day = distinct_counts(ids)  # the attack, against the code as it was
    assert hour <= 32 and day <= 64  # the exact sets' sizes, then one position


def test_with_the_deployments_seed_they_count_as_what_they_are(seed_after: None) -> None:
    for attackers_seed in (0, subkeys.hash_seed(b"another deployment's key " * 2)):
        ids = colliding_ids(attackers_seed, VIEWS)
        use_hash_seed(subkeys.hash_seed(b"this deployment's pseudonym key, 32 bytes+"))
        hour, day = distinct_counts(ids)
        # 400 views 5 s apart: 33 minutes, all inside the hour; the sketches' estimates
        assert hour >= 0.85 * VIEWS and day >= 0.85 * VIEWS, (attackers_seed, hour, day)


def test_a_seed_is_32_bits(seed_after: None) -> None:
    for bad in (-1, 1 << 32):
        with pytest.raises(ValueError, match="32-bit"):
            use_hash_seed(bad)
