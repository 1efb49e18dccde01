import pytest

from stream.core import side_inputs
from stream.core.batch import Limits
from stream.core.correlation import Activity, GroupCorrelator, GroupSignal, subnet_of
from stream.core.group_state import GroupState
from stream.core.partition_detector import PartitionDetector
from stream.core.policy_loader import load_policy, parse_policy
from tests.helpers import T0

POLICY = load_policy()  # accounts_per_ip > 8 (300 views), accounts_per_subnet > 20 (600 views)


def test_subnets() -> None:
    assert subnet_of("203.0.113.77") == "203.0.113.0/24"
    assert subnet_of("2001:db8:1:2:3::9") == "2001:db8:1:2::/64"


def test_distributed_accounts_in_one_subnet_are_all_signalled() -> None:
    core = GroupCorrelator(POLICY)
    acts = [Activity(f"account:d{i}", f"203.0.113.{i % 30}", T0 + i * 10, 40) for i in range(25)]
    signals, changed = core.process(acts)
    subnet = [s for s in signals if s.group == "subnet:203.0.113.0/24"]
    assert {s.actor for s in subnet} == {f"account:d{i}" for i in range(25)}
    first = subnet[0]
    assert first.reason_naming("203.0.113.0/24") == "accounts_per_subnet 21 > 20 (203.0.113.0/24)"
    assert first.expires_at == first.ts + 3600
    assert "subnet:203.0.113.0/24" in changed


def test_farm_on_one_ip() -> None:
    core = GroupCorrelator(POLICY)
    acts = [Activity(f"account:f{i}", "198.51.100.9", T0 + i, 50) for i in range(12)]
    signals, _ = core.process(acts)
    ip = [s for s in signals if s.group == "ip:198.51.100.9"]
    assert {s.actor for s in ip} == {f"account:f{i}" for i in range(12)}
    assert (ip[0].group, ip[0].metric, ip[0].value) == ("ip:198.51.100.9", "accounts_per_ip", 9)


def test_a_farm_on_one_ipv6_host_is_one_address_whatever_address_of_its_64_it_uses() -> None:
    core = GroupCorrelator(POLICY)
    acts = [Activity(f"account:f{i}", f"2001:db8:7:9::{i + 1:x}", T0 + i, 50) for i in range(12)]
    signals, changed = core.process(acts)
    assert {s.actor for s in signals} == {f"account:f{i}" for i in range(12)}
    assert {(s.group, s.metric) for s in signals} == {("ip:2001:db8:7:9::/64", "accounts_per_ip")}
    assert changed == {"ip:2001:db8:7:9::/64"}  # no second group of the same /64


def test_office_of_people_reading_few_profiles_is_left_alone() -> None:
    core = GroupCorrelator(POLICY)
    acts = [Activity(f"account:o{i}", "192.0.2.10", T0 + i * 60, 3) for i in range(40)]
    signals, _ = core.process(acts)
    assert signals == []  # 40 accounts, but 120 profile views: below the volume gate


def test_accounts_leave_the_window_after_an_hour() -> None:
    core = GroupCorrelator(POLICY)
    core.process([Activity(f"account:a{i}", "192.0.2.1", T0, 100) for i in range(8)])
    # an hour later only the new account counts on that IP
    signals, _ = core.process([Activity("account:late", "192.0.2.1", T0 + 3700, 400)])
    assert signals == []
    assert core.groups["ip:192.0.2.1"].accounts_per_hour == 1


def test_signals_are_not_repeated_until_half_their_ttl() -> None:
    core = GroupCorrelator(POLICY)
    core.process([Activity(f"account:f{i}", "198.51.100.9", T0, 50) for i in range(10)])
    again, _ = core.process([Activity("account:f1", "198.51.100.9", T0 + 60, 50)])
    assert [s for s in again if s.group.startswith("ip:")] == []
    later, _ = core.process([Activity("account:f1", "198.51.100.9", T0 + 1900, 50)])
    assert [s.actor for s in later if s.group.startswith("ip:")] == ["account:f1"]


def test_group_state_round_trip() -> None:
    g = GroupState()
    for i in range(70):
        g.add(Activity(f"account:{i}", "192.0.2.1", T0 + i, 2))
    h = GroupState.decode(g.encode())
    assert (h.accounts_per_hour, h.views_per_hour, h.recent) == (
        g.accounts_per_hour,
        g.views_per_hour,
        g.recent,
    )
    with pytest.raises(ValueError):
        GroupState.decode(b"{}")


def test_signal_wire_round_trip() -> None:
    sig = GroupSignal("account:x", "ip:1.2.3.4", "accounts_per_ip", 9, 8, T0, T0 + 60)
    assert GroupSignal.decode(sig.encode()) == sig


def test_detector_turns_a_signal_into_a_challenge_then_blocks_if_it_continues() -> None:
    from models import REGISTRY
    from tests.helpers import event, rec

    det = PartitionDetector(
        "requests",
        0,
        POLICY,
        REGISTRY.get("hst").build(),
        "hst@1",
        Limits(),
        clock=lambda: T0 + 86400,
    )
    sig = GroupSignal(
        "account:alice", "subnet:203.0.113.0/24", "accounts_per_subnet", 37, 20, T0, T0 + 3600
    )
    # a member without evidence of its own (no score yet) is not challenged for its group
    assert side_inputs.apply_group_signals(det, [sig]).decisions == []
    alice = det.actors.get("account:alice")
    assert alice is not None and alice.group_flag(T0)
    alice.score = 0.9  # a sure score, but from none of its own profile views
    assert side_inputs.apply_group_signals(det, [sig]).decisions == []
    alice.score = 0.0
    # [groups] member_min_profiles_per_hour (10) views of its own
    out = det.process([rec(i, event(i, T0 + i, target_profile_id=f"v{i}")) for i in range(10)])
    alice = det.actors.get("account:alice")
    assert alice is not None and alice.counters.profiles_per_hour == 10
    assert out.decisions == [], [d.reasons for d in out.decisions]
    alice.score = 0.84  # under [groups] member_min_score (0.85): still a person
    assert side_inputs.apply_group_signals(det, [sig]).decisions == []
    alice.score = 0.9  # a high score, but no sign of automation: a busy person at an office
    assert side_inputs.apply_group_signals(det, [sig]).decisions == []
    alice.counters.automation = True  # its own behaviour looks automated: a sign as well
    out = side_inputs.apply_group_signals(det, [sig])
    assert [(d.action, d.reasons) for d in out.decisions] == [
        (
            "challenge",
            [
                "accounts_per_subnet 37 > 20 (203.0.113.0/24) with anomaly_score 0.900 "
                "and automation_ua"
            ],
        )
    ]
    records = [rec(i, event(i, T0 + 10 + i, target_profile_id=str(i))) for i in range(10, 130)]
    out = det.process(records)
    assert [d.action for d in out.decisions] == ["block"]
    assert "profile_views_after_challenge 101 > 100" in out.decisions[0].reasons


def test_detector_reports_accounts_per_ip_activity_once_per_batch() -> None:
    from models import REGISTRY
    from tests.helpers import event, rec

    det = PartitionDetector("requests", 0, POLICY, REGISTRY.get("hst").build(), "hst@1")
    records = [
        rec(i, event(i, T0 + i, ip=f"10.0.0.{i % 2}", target_profile_id="p")) for i in range(10)
    ]
    records.append(rec(10, event(10, T0, account=None, session_id="s1"), key="session:s1"))
    out = det.process(records)
    assert sorted((a.actor, a.ip, a.views) for a in out.activities) == [
        ("account:alice", "10.0.0.0", 5),
        ("account:alice", "10.0.0.1", 5),
    ]


def test_groups_policy_errors() -> None:
    from stream.core.policy import PolicyError

    with pytest.raises(PolicyError, match="groups"):
        parse_policy("[groups]\naccounts_per_ip = { challenge = 3 }")


def test_a_group_of_an_older_era_is_kept_while_its_activity_arrives() -> None:
    """A replayed old log beside today's traffic: the replayed farm's group is idle by the
    partition's event time from its first activity, but keeps its accounts while they
    arrive, so the farm is counted as one group; it goes once they stop for the grace."""
    clock = [5000.0]
    core = GroupCorrelator(POLICY, clock=lambda: clock[0])
    core.process([Activity("account:today", "192.0.2.1", T0 + 10 * 86400, 50)])
    core.process([Activity(f"account:f{i}", "198.51.100.9", T0 + i, 50) for i in range(5)])
    assert "ip:192.0.2.1" not in core.older_era.used  # today's group needs no protection
    assert core.expire_idle() == []  # worked just now
    clock[0] += 600
    signals, _ = core.process(
        [Activity(f"account:f{i}", "198.51.100.9", T0 + 60 + i, 50) for i in range(5, 12)]
    )
    assert core.expire_idle() == []
    assert {s.actor for s in signals if s.group == "ip:198.51.100.9"} == {
        f"account:f{i}" for i in range(12)
    }  # all twelve counted as one group: the first five were not expired in between
    clock[0] += 3601  # the grace: an hour of clock time since the group's last batch
    assert set(core.expire_idle()) == {"ip:198.51.100.9", "subnet:198.51.100.0/24"}
    assert "ip:192.0.2.1" in core.groups  # today's group is not idle
