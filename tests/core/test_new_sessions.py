"""Logged-out sessions counted on their address (``[groups] new_session_views_per_ip``).

A scraper that drops its session cookie on every request is a new session actor each
time, with one event: under every per-actor limit. The detector reports sessions'
profile views to the correlator, apart from accounts and marked fresh in a session's
first requests; the correlator signals the address itself (an IPv6 /64) when new
sessions' views pass the limit and are most of its views; the detector challenges or
blocks the address.
"""

from __future__ import annotations

import itertools
import tracemalloc
from typing import Any

import orjson
import pytest

from models import REGISTRY
from stream.core import side_inputs
from stream.core.batch import Limits
from stream.core.correlation import GroupCorrelator, address_actor
from stream.core.enforcement import Origin, origin_of
from stream.core.group_state import GroupState, SessionGroup
from stream.core.internal_records import (
    FRESH_MAX_EVENTS,
    NEW_SESSIONS_METRIC,
    Activity,
    GroupSignal,
)
from stream.core.partition_detector import PartitionDetector
from stream.core.policy_loader import load_policy, parse_policy
from stream.harness.offline import OfflineRun
from tests.helpers import T0, event, rec

POLICY = load_policy()  # new_session_views_per_ip = { challenge = 150 }
BLOCKING = parse_policy("[groups]\nnew_session_views_per_ip = { challenge = 150, block = 600 }\n")
IP = "203.0.113.77"


def rotating(n: int, ip: str = IP, step_s: float = 0.2, tenant: str | None = None) -> list[Any]:
    """``n`` profile views, each from a session of its own (the cookie dropped)."""
    docs = []
    for i in range(n):
        doc = event(i, T0 + i * step_s, None, session_id=f"s{i}", ip=ip)
        doc["target_profile_id"] = str(50_000 + i)
        if tenant:
            doc["tenant"] = tenant
        docs.append(doc)
    return docs


def people(visitors: int, ip: str = IP, views_each: int = 8) -> list[Any]:
    """Logged-out people behind one address: each keeps its cookie through a visit of
    a page, its assets and ``views_each`` profiles, a few seconds apart."""
    docs: list[Any] = []
    for v in range(visitors):
        t = T0 + v * (3600.0 / visitors)
        for j in range(views_each):
            doc = event(len(docs), t + j * 20.0, None, session_id=f"p{v}", ip=ip)
            doc["target_profile_id"] = str(70_000 + v * 100 + j)
            docs.append(doc)
            for a in range(3):  # the page's assets, with the same cookie
                docs.append(
                    event(len(docs), t + j * 20.0 + 0.1 * (a + 1), None, session_id=f"p{v}",
                          ip=ip, path=f"/static/app{a}.js")
                )  # fmt: skip
    return sorted(docs, key=lambda d: d["ts"])


def run(docs: list[Any], policy: Any = POLICY) -> Any:
    return OfflineRun(policy, REGISTRY.get("hst").spec(), now=T0 + 7200).run(docs)


def test_logged_out_people_behind_one_address_are_left_alone() -> None:
    # 400 visitors an hour through one NAT, 8 profiles each: 400 new sessions' first
    # views pass the limit of 150, but they are a small share of the address's views
    res = run(people(400))
    assert res.decisions == []


def test_it_is_off_with_an_empty_table_and_under_the_allowlist() -> None:
    off = parse_policy("[groups]\nnew_session_views_per_ip = {}\n")
    assert run(rotating(1000), off).decisions == []
    allowed = parse_policy(f'[allowlist]\nip_ranges = ["{IP}/32"]\n')
    assert run(rotating(1000), allowed).decisions == []


def test_an_ipv6_scraper_is_counted_on_its_64_and_the_range_is_acted_on() -> None:
    docs = rotating(1000, ip="2001:db8:1:2::1")
    for i, doc in enumerate(docs):
        doc["ip"] = f"2001:db8:1:2::{i + 1:x}"  # a new address of its /64 each time
    res = run(docs)
    assert {d.actor for d in res.decisions} == {"range:2001:db8:1:2::/64"}
    assert "2001:db8" not in res.decisions[0].reasons[0]  # the range by pseudonym
    assert res.decisions[0].reasons[0].endswith(")") and "(p_" in res.decisions[0].reasons[0]
    # an IPv4 client logged by a dual-stack server as IPv4-mapped is its IPv4 address
    mapped = rotating(1000, ip=f"::ffff:{IP}")
    assert {d.actor for d in run(mapped).decisions} == {f"ip:{IP}"}


def test_the_address_is_named_under_the_sessions_tenant() -> None:
    assert address_actor("t1/session:abc", IP) == f"t1/ip:{IP}"
    assert address_actor("session:a/b", IP) == f"ip:{IP}"
    assert address_actor("session:x", "2001:db8::7") == "range:2001:db8::/64"
    res = run(rotating(1000, tenant="t1"))
    assert {d.actor for d in res.decisions} == {f"t1/ip:{IP}"}


def test_the_detector_reports_sessions_apart_and_fresh_only_in_their_first_requests() -> None:
    det = detector()

    docs = [event(i, T0 + 15 * i, None, session_id="s", target_profile_id=str(i)) for i in range(6)]
    acts = det.process([rec(0, docs[0], "session:s")]).activities
    assert [(a.session, a.fresh, a.views) for a in acts] == [(True, True, 1)]
    later = det.process([rec(i, d, "session:s") for i, d in enumerate(docs[1:], 1)]).activities
    assert {a.session for a in later} == {True}
    # 15 s apart: the 2nd and 3rd requests are fresh (the first 3), the 4th to 6th not
    assert sum(a.views for a in later if a.fresh) == 2
    assert sum(a.views for a in later if not a.fresh) == 3


def test_a_sessions_first_views_are_fresh_whatever_the_batches() -> None:
    # a cookie kept for a burst of 8 views in 2 s: its first 3 are fresh, in one batch or
    # in eight (judged at the end of a batch, the burst in one batch had none)
    docs = [event(i, T0 + i / 4, None, session_id="b", target_profile_id=str(i)) for i in range(8)]
    records = [rec(i, d, "session:b") for i, d in enumerate(docs)]
    whole = detector().process(records).activities
    det = detector()
    one_by_one = [a for r in records for a in det.process([r]).activities]
    for acts in (whole, one_by_one):
        assert sum(a.views for a in acts if a.fresh) == FRESH_MAX_EVENTS == 3
        assert sum(a.views for a in acts if not a.fresh) == 5
    assert [a.fresh for a in whole] == [True, False]  # in time order


def test_a_signal_is_sent_at_once_and_again_when_it_newly_asks_for_a_block() -> None:
    corr = GroupCorrelator(BLOCKING)
    sent: list[GroupSignal] = []
    for i in range(700):
        act = Activity(f"session:s{i}", IP, T0 + i, 1, session=True, fresh=True)
        sent += corr.process([act])[0]
    assert [(s.value, s.threshold) for s in sent] == [(151, 150), (601, 600)]
    assert {(s.actor, s.group) for s in sent} == {(f"ip:{IP}", f"sessions:ip:{IP}")}
    assert sent[1].expires_at - sent[1].ts == BLOCKING.ttl_block_s


def test_a_challenge_is_renewed_while_it_goes_on_without_a_gap() -> None:
    # 250 new sessions' views an hour for three hours: the challenge (an hour) is
    # renewed before it lapses, every time
    docs = rotating(750, step_s=14.4)
    # batches of 100 events, in order of event time as a worker reading as they come
    res = OfflineRun(POLICY, REGISTRY.get("hst").spec(), batch_size=100, now=T0 + 14400).run(docs)
    about = [d for d in res.decisions if d.actor == f"ip:{IP}"]
    assert about[0].action == "challenge" and len(about) == 3  # at 36, 86 and 136 minutes
    for before, after in itertools.pairwise(about):
        assert after.action == "challenge" and after.reasons[0] == "renewal"
        assert after.ts < before.expires_at  # no gap


def test_a_block_is_the_policys_to_ask_for() -> None:
    res = run(rotating(3000), BLOCKING)
    assert [d.action for d in res.decisions] == ["challenge", "block"]
    assert [d.action for d in run(rotating(3000)).decisions] == ["challenge"]


def test_the_tenant_whose_sessions_scrape_is_the_one_acted_on() -> None:
    docs = rotating(400, tenant="a") + [
        {**d, "tenant": "b", "event_id": f"b{i}"} for i, d in enumerate(rotating(4))
    ]
    res = run(sorted(docs, key=lambda d: d["ts"]))
    assert {d.actor for d in res.decisions} == {f"a/ip:{IP}"}


@pytest.mark.parametrize(
    ("actor", "group"),
    [
        ("range:0.0.0.0/0", "sessions:range:0.0.0.0/0"),  # everyone
        ("range:2001:db8::/48", "sessions:range:2001:db8::/48"),  # wider than a /64
        ("range:198.51.100.0/24", "sessions:range:198.51.100.0/24"),
        ("ip:2001:db8::1", "sessions:ip:2001:db8::1"),  # an IPv6 address is its /64
        (f"ip:{IP}", "sessions:ip:198.51.100.1"),  # another address's group
        ("account:a", f"sessions:ip:{IP}"),
    ],
)
def test_a_signal_names_one_address_or_one_64_of_its_own_group_else_it_is_refused(
    actor: str, group: str
) -> None:
    det = detector()
    sig = GroupSignal(actor, group, NEW_SESSIONS_METRIC, 999, 150, T0, T0 + 3600)
    out = side_inputs.apply_group_signals(det, [sig])
    assert out.decisions == [] and out.stats["skipped_group_signal"] == 1


def test_allowlisted_ranges_overlapping_the_64_and_allowlisted_sessions_are_left_alone() -> None:
    docs = rotating(1000)
    for i, doc in enumerate(docs):
        doc["ip"] = f"2001:db8:1:2::{i + 1:x}"
    one = parse_policy('[allowlist]\nip_ranges = ["2001:db8:1:2::10/128"]\n')
    assert run(docs, one).decisions == []
    crawler = parse_policy('[allowlist]\nuser_agents = ["^Mozilla"]\n')
    assert run(rotating(1000), crawler).decisions == []


def test_the_state_of_new_sessions_round_trips() -> None:
    g = SessionGroup()
    g.add_session(Activity("session:a", IP, T0, 3, session=True, fresh=True))
    g.add_session(Activity("session:b", IP, T0 + 60, 5, session=True, fresh=False))
    g.fresh_until, g.fresh_block = T0 + 3600, True
    back = SessionGroup.decode(g.encode())
    assert (back.fresh_views_per_hour, back.session_views_per_hour) == (3, 8)
    assert (back.fresh_until, back.fresh_block, back.last_ts) == (T0 + 3600, True, T0 + 60)
    for wrong in ({"fh": 1e30}, {"t": 1e300}, {"fu": -1.0}, {"fh": -2}):
        with pytest.raises(ValueError, match="out of range"):
            SessionGroup.decode(orjson.dumps({**orjson.loads(g.encode()), **wrong}))


def test_an_address_sessions_are_a_small_state_of_their_own() -> None:
    # they were a whole group of accounts (~1.7 KB, an account set never used); the
    # correlator keeps up to MAX_SESSION_GROUPS of them a partition
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [SessionGroup() for _ in range(1000)]
        for i, g in enumerate(kept):
            g.add_session(Activity(f"session:{i}", IP, T0 + i, 1, session=True, fresh=True))
        each = (tracemalloc.get_traced_memory()[0] - before) / len(kept)
    finally:
        tracemalloc.stop()
    assert each < 1000, each


def test_groups_are_restored_as_their_keys_say() -> None:
    # the last version wrote an address's sessions as a whole group with these fields; and
    # an account group written in between carried them too: each is read as its key says
    ring = [0] * 120
    ring[2 * (int(T0 // 60) % 60)], ring[2 * (int(T0 // 60) % 60) + 1] = 3, 9
    written = orjson.loads(GroupState().encode())
    written.update({"fh": int(T0 // 60), "fr": ring, "fu": T0 + 3600, "fb": False, "t": T0})
    accounts = GroupState()
    accounts.add(Activity("account:a", IP, T0, 2))
    with_sessions = {**orjson.loads(accounts.encode()), **{k: written[k] for k in ("fh", "fr")}}
    corr = GroupCorrelator(POLICY)
    unreadable = corr.restore(
        [
            (f"sessions:ip:{IP}", orjson.dumps(written)),
            (f"ip:{IP}", orjson.dumps(with_sessions)),
            ("ip:192.0.2.9", b"{}"),
        ]
    )
    assert unreadable == 1
    back = corr.session_groups[f"sessions:ip:{IP}"]
    assert (back.fresh_views_per_hour, back.session_views_per_hour) == (3, 9)
    assert corr.groups[f"ip:{IP}"].accounts_per_hour == 1
    assert corr.watermark == T0


def test_an_activity_is_fresh_only_as_a_session() -> None:
    act = Activity("session:a", IP, T0, 1, session=True, fresh=True)
    assert Activity.decode(act.encode()) == act
    with pytest.raises(ValueError, match="only a session is fresh"):
        Activity.decode(b'{"a":"account:a","i":"1.2.3.4","t":1e9,"v":1,"f":true}')


def test_a_decision_on_new_sessions_says_group() -> None:
    assert origin_of([f"{NEW_SESSIONS_METRIC} 151 > 150 (p_x)"]) == Origin.GROUP


def detector() -> PartitionDetector:
    return PartitionDetector(
        "requests", 0, POLICY, REGISTRY.get("hst").build(), "hst@1", Limits(),
        clock=lambda: T0 + 86400,
    )  # fmt: skip
