"""/check and the bouncer stream's pure parts: client address, answers, LAPI records, deltas."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from stream.api.bouncer_stream import Cursors, Delta, Filters, go_duration, lapi_decision
from stream.api.check import ClientAddress, answer
from stream.cli.enforcement_cmd import parse_duration
from stream.core.decision_index import DecisionIndex, Entry
from stream.core.records import Decision

NOW = 1_780_000_000.0
TRUSTED = ClientAddress(["127.0.0.1/32", "10.0.0.0/8"], ["X-Forwarded-For", "X-Real-IP"])


@pytest.mark.parametrize(
    ("peer", "headers", "client"),
    [
        ("198.51.100.7", {"X-Forwarded-For": "1.2.3.4"}, "198.51.100.7"),  # not a proxy
        ("127.0.0.1", {"X-Forwarded-For": "1.2.3.4, 203.0.113.9"}, "203.0.113.9"),
        ("127.0.0.1", {"X-Forwarded-For": "203.0.113.9, 10.1.1.1"}, "203.0.113.9"),
        ("127.0.0.1", {"X-Forwarded-For": "10.2.2.2, 10.1.1.1"}, "10.2.2.2"),
        ("127.0.0.1", {"X-Real-IP": "2001:DB8::7"}, "2001:db8::7"),
        # a dual-stack listener sees its IPv4 proxy as IPv4-mapped: still the proxy
        ("::ffff:10.0.0.5", {"X-Forwarded-For": "198.51.100.7"}, "198.51.100.7"),
        ("::ffff:198.51.100.8", {"X-Forwarded-For": "1.2.3.4"}, "198.51.100.8"),
        ("127.0.0.1", {}, "127.0.0.1"),
        ("127.0.0.1", {"X-Forwarded-For": "garbage"}, None),
    ],
)
def test_client_address_believes_only_trusted_proxies(
    peer: str, headers: dict[str, str], client: str | None
) -> None:
    assert TRUSTED.of(peer, CIMultiDict(headers)) == client


def decision(actor: str, action: str, ttl_s: float = 3600, did: str = "ab" * 16) -> Decision:
    return Decision(
        did, actor, action, ["profiles_per_hour 400 > 300"], 0.0, "hst@1", ttl_s, NOW + ttl_s, NOW
    )


def entry(actor: str, action: str, ttl_s: float = 3600, did: str = "ab" * 16) -> Entry:
    idx = DecisionIndex()
    idx.add(decision(actor, action, ttl_s, did))
    (e,) = list(idx.active(NOW))
    return e


def test_answers_are_the_codes_gateways_understand() -> None:
    assert answer(None, NOW) == (200, {"X-Scrapeguard-Action": "allow"})
    status, headers = answer(entry("account:a", "challenge", 90.5), NOW)
    assert status == 401 and headers["Retry-After"] == "91"
    assert headers["X-Scrapeguard-Reason"] == "profiles_per_hour 400 > 300"
    status, headers = answer(entry("ip:203.0.113.9", "block"), NOW)
    assert (status, headers["X-Scrapeguard-Action"]) == (403, "block")
    assert headers["X-Scrapeguard-Decision-Id"] == "ab" * 16


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(86352, "23h59m12s"), (240, "4m0s"), (9, "9s"), (0.2, "1s"), (-5, "0s"), (3600, "1h0m0s")],
)
def test_go_durations(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text


def test_lapi_records_have_the_fields_bouncers_read() -> None:
    rec = lapi_decision(entry("ip:203.0.113.9", "block"), NOW + 48)
    assert rec["scope"] == "Ip" and rec["type"] == "ban" and rec["value"] == "203.0.113.9"
    assert rec["duration"] == "59m12s" and rec["origin"] == "rules"
    assert rec["scenario"] == "scrapeguard/profiles_per_hour" and isinstance(rec["id"], int)
    assert lapi_decision(entry("range:10.0.0.0/8", "challenge"), NOW)["type"] == "captcha"


def test_deltas_per_bouncer() -> None:
    cur = Cursors()
    a = entry("ip:203.0.113.9", "challenge", did="a" * 32)
    b = entry("ip:203.0.113.9", "block", did="b" * 32)
    c = entry("range:10.0.0.0/8", "block", did="c" * 32)

    def poll(bouncer: str, current: dict[int, Entry], startup: bool = False) -> Delta:
        delta = cur.delta(bouncer, current, NOW, startup=startup)
        cur.delivered(bouncer, delta)
        return delta

    first = poll("fw", {a.id: a}, startup=True)
    assert [d["id"] for d in first.new] == [a.id] and first.deleted == []
    assert not poll("fw", {a.id: a})
    # the challenge became a block: one delete, one add; another bouncer starts afresh
    changed = poll("fw", {b.id: b, c.id: c})
    assert {d["id"] for d in changed.new} == {b.id, c.id}
    assert [d["id"] for d in changed.deleted] == [a.id]
    assert changed.deleted[0]["value"] == "203.0.113.9"
    other = poll("edge", {c.id: c})
    assert [d["id"] for d in other.new] == [c.id] and other.deleted == []


def test_a_delta_not_delivered_is_computed_again() -> None:
    # a poll whose bouncer left (its own timeout) is not delivered: the next poll gets it
    cur = Cursors()
    a = entry("ip:203.0.113.9", "block", did="a" * 32)
    cur.delivered("fw", cur.delta("fw", {}, NOW, startup=True))
    lost = cur.delta("fw", {a.id: a}, NOW, startup=False)
    assert [d["id"] for d in lost.new] == [a.id]
    again = cur.delta("fw", {a.id: a}, NOW, startup=False)
    assert [d["id"] for d in again.new] == [a.id]


def test_filters_default_to_ip_and_range() -> None:
    ip, acc = entry("ip:203.0.113.9", "block"), entry("account:a", "block")
    default = Filters.of({})
    assert default.keep(ip) and not default.keep(acc)
    wide = Filters.of({"scopes": "Ip,Account", "origins": "rules,manual"})
    assert wide.keep(ip) and wide.keep(acc)
    assert not Filters.of({"origins": "manual"}).keep(ip)
    assert not Filters.of({"scenarios_not_containing": "profiles"}).keep(ip)
    # a tenant's bouncer gets its tenant's decisions and the addresses decided without one,
    # as /check applies them (never another tenant's, nor accounts without a tenant)
    t1 = Filters.of({"tenant": "t1", "scopes": "Ip,Account"})
    assert t1.keep(ip) and not t1.keep(acc)
    assert t1.keep(entry("t1/account:a", "block")) and not t1.keep(
        entry("t2/ip:192.0.2.1", "block")
    )


@pytest.mark.parametrize(
    ("text", "s"), [("24h", 86400), ("1h30m", 5400), ("90", 90), ("7d", 604800)]
)
def test_durations_on_the_command_line(text: str, s: float) -> None:
    assert parse_duration(text) == s
