"""Finding 10: unbounded state. The compressed actor tier had no cap (20,000 IPv6 actors
kept at ~1.2 KB each, none expired: idle expiry works in event time, and an attacker
makes up identities faster); correlator groups, pending incident items, incident
user-agent sets, and the global view's incidents and members were never pruned.
Every one is bounded now, and what a bound drops is counted in
``scrapeguard_state_evictions_total{kind=...}``.
"""

from __future__ import annotations

import ipaddress
import time

import orjson
import pytest
from pydantic import SecretStr

from models import REGISTRY
from stream.core import incidents as incidents_mod
from stream.core.batch import Limits
from stream.core.correlation import GroupCorrelator
from stream.core.incidents import IncidentBook
from stream.core.internal_records import Activity, FeedItem, Member
from stream.core.partition_detector import PartitionDetector
from stream.core.policy_loader import load_policy
from stream.runtime import global_view
from stream.runtime.global_view import GlobalView
from stream.runtime.metrics import Metrics
from stream.settings import Settings
from tests.helpers import T0, Rec

NOW = T0 + 86_400


def test_the_actor_table_is_capped_and_evictions_are_tombstoned() -> None:
    det = PartitionDetector(
        "requests",
        0,
        load_policy(),
        REGISTRY.get("hst").build(),
        "hst@1",
        Limits(hot_actors=200, max_actors=1000),
        clock=lambda: NOW,
    )
    evicted, counted = [], 0
    for batch in range(20):  # 20,000 made-up IPv6 actors, one event each
        recs = []
        for i in range(1000):
            n = batch * 1000 + i
            ip = str(ipaddress.ip_address(f"2001:db8:{n // 65536:x}:{n % 65536:x}::1"))
            doc = {"event_id": f"e{n}", "ts": NOW - 60, "ip": ip, "path": "/", "status": 200}
            recs.append(Rec(n, f"ip:{ip}".encode(), orjson.dumps(doc)))
        out = det.process(recs)
        evicted += out.evicted
        counted += out.stats["evicted_actors"]
    assert len(det.actors) == 1000
    assert len(evicted) == counted == 19_000  # each one tombstoned in the changelog
    assert Settings().max_actors_per_partition > 0


def test_correlator_groups_are_capped() -> None:
    core = GroupCorrelator(load_policy(), max_groups=500)
    acts = [Activity(f"account:a{i}", f"10.{i // 250}.{i % 250}.1", NOW, 1) for i in range(5000)]
    _, changed = core.process(acts)
    assert len(core.groups) == 500
    gone = core.take_evicted()
    assert len(gone) == 2 * 5000 - 500 and not set(gone) & set(core.groups)
    assert changed <= set(core.groups)


def test_logged_out_addresses_are_capped_apart_and_do_not_push_a_farm_out() -> None:
    core = GroupCorrelator(load_policy(), max_groups=500)
    core.max_session_groups = 300
    farm = [Activity(f"account:f{i}", "198.51.100.9", NOW, 50) for i in range(12)]
    core.process(farm)
    visitors = [
        Activity(
            f"session:s{i}", f"10.{i // 250}.{i % 250}.2", NOW + 1, 1, session=True, fresh=True
        )
        for i in range(5000)
    ]
    _, changed = core.process(visitors)
    assert len(core.session_groups) == 300
    assert "ip:198.51.100.9" in core.groups  # the farm's group is still there
    gone = core.take_evicted()
    assert len(gone) == 5000 - 300 and all(k.startswith("sessions:") for k in gone)
    assert set(changed) <= set(core.session_groups)


def access(key: str, i: int, ua: str = "UA") -> FeedItem:
    return FeedItem("access", key, f"account:x{i}", NOW + i, user_agent=ua, profile=f"p{i}")


def test_pending_incident_items_are_capped_by_key() -> None:
    book = IncidentBook()
    book.process([access(f"subnet:10.{i // 256}.{i % 256}.0/24", i) for i in range(30_000)])
    bound = incidents_mod.PENDING_KEYS_MAX
    assert len(book.pending) == bound
    assert book.evictions["incident_pending_key"] == 30_000 - bound


def test_incident_user_agents_are_capped() -> None:
    book = IncidentBook()
    opening = FeedItem("decision", "subnet:k", "account:x", NOW, action="challenge")
    incs, _ = book.process([opening] + [access("subnet:k", i, f"UA-{i}") for i in range(5000)])
    bound = incidents_mod.MAX_USER_AGENTS
    assert len(incs[0].user_agents) == bound
    assert book.evictions["incident_user_agent"] == 5000 - bound


def test_incident_decisions_are_capped_but_an_appeal_is_kept_past_the_cap() -> None:
    # an appeal made after a busy incident's 200th decision was dropped, so the incident
    # (and its breach report) no longer showed it next to the block it lifted
    book = IncidentBook()

    def decision(i: int, reason: str) -> FeedItem:
        return FeedItem("decision", "subnet:k", f"account:x{i}", NOW + i, action="block",
                        reasons=[reason], decision_id=f"{i:032x}")  # fmt: skip

    bound, extra = incidents_mod.MAX_DECISIONS, incidents_mod.MAX_MANUAL_DECISIONS
    rules = [decision(i, "profiles_per_hour 400 > 300") for i in range(bound + 10)]
    appeals = [decision(bound + 10 + i, "manual_delete: appeal") for i in range(extra + 5)]
    incs, _ = book.process(rules + appeals)
    reasons = [d["reasons"][0] for d in incs[-1].decisions]
    assert len(reasons) == bound + extra
    assert reasons.count("manual_delete: appeal") == extra  # the rules' past the cap: not kept
    assert book.evictions["incident_decision"] == 10 + 5


def test_open_incidents_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(incidents_mod, "MAX_OPEN", 50)
    book = IncidentBook()
    items = [FeedItem("decision", f"subnet:k{i}", "account:x", NOW + i) for i in range(200)]
    updates, _ = book.process(items)
    assert len(book.open) == 50
    assert sum(1 for u in updates if u.status == "closed") == 150  # published as closed
    assert book.evictions["open_incident"] == 150


class _Rec:
    def __init__(self, value: bytes) -> None:
        self.value = value


def test_the_global_views_incidents_and_members_are_capped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(global_view, "MAX_INCIDENTS", 100)
    monkeypatch.setattr(global_view, "MAX_MEMBERS", 10)
    key = "c" * 40
    v = GlobalView(
        Settings(control_key=SecretStr(key)),
        writer=None,
        owned=set,
        on_control=lambda *a: None,  # type: ignore[arg-type]
    )
    for i in range(1000):
        inc = {
            "incident_id": f"inc-{i}",
            "status": "closed" if i % 2 else "open",
            "version": 1,
            "opened_at": NOW,
            "last_activity_at": NOW + i,
        }
        v._on_incident(_Rec(orjson.dumps(inc)))
    assert len(v.incidents) <= 100
    assert v.stats["evicted_incident"] == 1000 - len(v.incidents)
    from stream.core.peers import member_key, sign_member

    mk = member_key(key.encode())
    for i in range(50):
        m = sign_member(Member(f"w{i}", f"http://10.0.0.{i}:6066", time.time(), [0]), mk)
        v._on_member(_Rec(m.encode()))
    assert len(v.members) == 10 and v.stats["evicted_member"] == 40


def test_evictions_are_exported_as_a_metric() -> None:
    m = Metrics()
    m.watch_evictions(lambda: {"actor": 19_000, "correlation_group": 3})
    m.watch_skipped(lambda: {"activity": 2})  # and records skipped on internal topics
    text = m.render().decode()
    assert 'scrapeguard_records_skipped_total{kind="activity"} 2.0' in text
    assert 'scrapeguard_state_evictions_total{kind="actor"} 19000.0' in text
    assert 'scrapeguard_state_evictions_total{kind="correlation_group"} 3.0' in text
