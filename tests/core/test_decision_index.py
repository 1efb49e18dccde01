"""The decisions in force by account, session, IP and range (what /check answers from)."""

from __future__ import annotations

import time

import pytest

from stream.core.actions import Action
from stream.core.actor_ref import ActorRef, parse_actor
from stream.core.decision_index import DecisionIndex, bouncer_id
from stream.core.records import Decision

NOW = 1_780_000_000.0


def dec(
    actor: str,
    action: str = "block",
    ttl_s: float = 3600,
    ts: float = NOW,
    did: str | None = None,
    origin: str = "rules",
    shadow: bool = False,
) -> Decision:
    return Decision(
        decision_id=did or f"{abs(hash((actor, action, ts))):032x}"[:32],
        actor=actor,
        action=action,
        reasons=["r"],
        score=0.0,
        model="hst@1",
        ttl_s=ttl_s,
        expires_at=ts + ttl_s if action != "allow" or origin == "manual" else 0.0,
        ts=ts,
        shadow=shadow,
        origin=origin,
    )


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("account:42", ActorRef(None, "account", "42")),
        ("t1/account:a/b", ActorRef("t1", "account", "a/b")),
        ("org/eu/session:s:1", ActorRef("org/eu", "session", "s:1")),
        ("ip:2001:DB8::1", ActorRef(None, "ip", "2001:db8::1")),
        ("range:203.0.113.7/24", ActorRef(None, "range", "203.0.113.0/24")),
    ],
)
def test_actors_parse(text: str, ref: ActorRef) -> None:
    assert parse_actor(text) == ref


@pytest.mark.parametrize(
    "text",
    ["", "42", "account:", "user:1", "/account:1", "ip:999.1.1.1", "range:nope", "account:\n"],
)
def test_malformed_actors_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_actor(text)


def test_strictest_of_account_session_ip_and_range() -> None:
    idx = DecisionIndex()
    idx.add(dec("account:a", "challenge"))
    idx.add(dec("session:s", "challenge", ttl_s=60))
    idx.add(dec("range:203.0.113.0/24", "block", ttl_s=600))
    assert idx.lookup(NOW, None, account="a").action == Action.CHALLENGE  # type: ignore[union-attr]
    e = idx.lookup(NOW, None, account="a", session="s", ip="203.0.113.9")
    assert e is not None and e.action == Action.BLOCK and e.ref.scope == "range"
    assert idx.lookup(NOW, None, ip="203.0.114.9") is None
    # of equal actions, the one that lasts longest
    e = idx.lookup(NOW, None, account="a", session="s")
    assert e is not None and e.ref.scope == "account"
    assert idx.lookup(NOW, "t1", account="a") is None  # tenants are separate


def test_ipv6_addresses_match_whatever_their_spelling() -> None:
    idx = DecisionIndex()
    idx.add(dec("ip:2001:DB8:0::1"))
    idx.add(dec("range:2001:db8:1::/48", "challenge"))
    assert idx.lookup(NOW, None, ip="2001:db8::1") is not None
    e = idx.lookup(NOW, None, ip="2001:db8:1:ffff::7")
    assert e is not None and e.action == Action.CHALLENGE
    assert idx.lookup(NOW, None, ip="not-an-ip") is None


def test_expiry_allow_and_order() -> None:
    idx = DecisionIndex()
    idx.add(dec("account:a", "block", ttl_s=60))
    assert idx.lookup(NOW + 61, None, account="a") is None  # expired
    v = idx.version
    assert not idx.add(dec("account:a", "challenge", ts=NOW - 5))  # older: ignored
    assert idx.version == v
    idx.add(dec("account:a", "allow", ts=NOW + 1))  # lifted
    assert len(idx) == 0 and idx.lookup(NOW + 2, None, account="a") is None
    idx.add(dec("account:a", "allow", ttl_s=3600, ts=NOW + 2, origin="manual"))
    e = idx.lookup(NOW + 3, None, account="a")
    assert e is not None and e.action == Action.ALLOW and not e.restricts
    assert list(idx.active(NOW + 3)) == []
    assert not idx.add(dec("account:b", shadow=True))


def test_bounded_and_purged() -> None:
    idx = DecisionIndex(max_entries=3)
    for i in range(5):
        idx.add(dec(f"range:10.0.{i}.0/24", ttl_s=10 + i))
    assert len(idx) == 3 and idx.evicted == 2
    assert idx.lookup(NOW, None, ip="10.0.0.1") is None  # evicted ranges are unindexed too
    assert idx.lookup(NOW, None, ip="10.0.4.1") is not None
    assert idx.purge(NOW + 13) == 2 and len(idx) == 1


def test_bouncer_ids_are_exact_json_numbers() -> None:
    i = bouncer_id("ffffffffffffffffffffffffffffffff")
    assert i < 2**53 and float(i) == i


def test_lookup_is_fast_with_many_decisions() -> None:
    idx = DecisionIndex()
    for i in range(20_000):
        idx.add(dec(f"account:u{i}", ts=NOW + i))
        idx.add(dec(f"ip:10.{i // 256 % 256}.{i % 256}.1", ts=NOW + i))
    for plen in (16, 24, 28):
        idx.add(dec(f"range:192.168.0.0/{plen}", "challenge"))
    n = 20_000
    t0 = time.perf_counter()
    for i in range(n):
        idx.lookup(NOW, None, account=f"u{i}", session="s", ip="192.168.0.9")
    per_lookup_us = (time.perf_counter() - t0) / n * 1e6
    assert per_lookup_us < 50, per_lookup_us  # ~5 µs on the 2-core CI machine
