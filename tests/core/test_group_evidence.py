"""The evidence of a group as a whole: each activity carries its account's latest score,
the correlator counts the group's accounts that score high, and a member of a group that
mostly does needs no sign of automation of its own (``[groups] member_share_alone``)."""

from __future__ import annotations

import orjson
import pytest

from stream.core import side_inputs
from stream.core.actor_codec import decode, encode
from stream.core.actor_state import ActorState
from stream.core.batch import Limits
from stream.core.correlation import GroupCorrelator, GroupState
from stream.core.internal_records import Activity, GroupSignal
from stream.core.partition_detector import PartitionDetector
from stream.core.policy_loader import load_policy, parse_policy
from tests.core.test_policy import flagged_member
from tests.helpers import T0, event, rec

POLICY = load_policy()  # accounts_per_ip > 8 (200 views); member_share_alone 0.5
FARM_IP = "198.51.100.9"


def farm(scores: list[float], ts: float = T0) -> list[Activity]:
    """One activity for each account on one address, 50 profile views each."""
    return [Activity(f"account:f{i}", FARM_IP, ts + i, 50, s) for i, s in enumerate(scores)]


def ip_signals(signals: list[GroupSignal]) -> list[GroupSignal]:
    return [s for s in signals if s.group == "ip:" + FARM_IP]


def test_a_signal_says_how_many_of_the_group_score_high() -> None:
    signals, _ = GroupCorrelator(POLICY).process(farm([0.99] * 10))
    sigs = ip_signals(signals)
    # crossed at the ninth account (all nine signalled), then the tenth: all high
    assert [(s.value, s.high) for s in sigs] == [(9, 9)] * 9 + [(10, 10)]
    assert sigs[-1].high_share == 1.0
    office, _ = GroupCorrelator(POLICY).process(farm([0.9, 0.9] + [0.3] * 8))
    assert {s.high for s in ip_signals(office)} == {2}  # two of nine: 0.22


def test_when_the_group_turns_mostly_high_every_member_is_signalled_again() -> None:
    core = GroupCorrelator(POLICY)
    first, _ = core.process(farm([0.5] * 10))
    assert len(ip_signals(first)) == 10
    # a minute later: the same accounts, not due again (half the signal's ttl) ...
    quiet, _ = core.process(farm([0.5] * 4, T0 + 60))
    assert ip_signals(quiet) == []
    # ... until their scores turn the group mostly high (5 of 10): all of them at once
    turned, _ = core.process(farm([0.95] * 5, T0 + 120))
    again = ip_signals(turned)
    assert sorted(s.actor for s in again) == sorted(f"account:f{i}" for i in range(10))
    assert {(s.value, s.high) for s in again} == {(10, 5)}
    # and when it turns back (the first score falls: 4 of 10), once more
    back, _ = core.process(farm([0.2] * 5, T0 + 180))
    assert {s.high for s in ip_signals(back)} == {4} and len(ip_signals(back)) == 10


def test_a_group_share_of_zero_turns_the_rule_off() -> None:
    off = parse_policy("[groups]\nmember_share_alone = 0\n")
    core = GroupCorrelator(off)
    core.process(farm([0.5] * 10))
    turned, _ = core.process(farm([0.99] * 10, T0 + 120))
    assert ip_signals(turned) == []  # the evidence does not turn anything: not re-signalled
    assert not off.groups.mostly_high(1.0)


def test_the_group_rule_spares_a_member_of_a_group_that_does_not_score_high() -> None:
    ts = T0 + 3000
    member = flagged_member(0.88)  # above member_min_score, no sign, under 0.99
    assert POLICY.member_reason(member, ts) == ""
    member.group_share = 0.4
    assert POLICY.member_reason(member, ts) == ""
    member.group_share = 0.6  # most of the group scores high: the group is the evidence
    assert POLICY.member_reason(member, ts) == (
        "accounts_per_ip 40 > 8 (p_office) with anomaly_score 0.880 and 60% of its "
        "accounts scoring 0.85+"
    )
    member.score = 0.84  # but never under member_min_score
    assert POLICY.member_reason(member, ts) == ""
    off = parse_policy("[groups]\nmember_share_alone = 0\n")
    member.score, member.group_share = 0.88, 1.0
    assert off.member_reason(member, ts) == ""
    strict = parse_policy("[score]\nchallenge = 0.9\n")  # nor at or under challenge
    assert strict.member_reason(member, ts) == ""
    assert POLICY.member_bars(0.6) == (0.85, 0.8) and POLICY.member_bars(0.4) == (0.85, 0.99)


def test_the_detector_challenges_a_member_when_its_group_scores_high() -> None:
    from models import REGISTRY

    det = PartitionDetector(
        "requests", 0, POLICY, REGISTRY.get("hst").build(), "hst@1", Limits(),
        clock=lambda: T0 + 86400,
    )  # fmt: skip
    # 10 profile views of its own, at a person's uneven pace, from a browser
    gaps = [0, 7, 31, 12, 55, 9, 140, 22, 18, 76]
    ts = [T0 + sum(gaps[: i + 1]) for i in range(10)]
    det.process([rec(i, event(i, ts[i], target_profile_id=f"v{i}")) for i in range(10)])
    alice = det.actors.get("account:alice")
    assert alice is not None
    alice.score = 0.88
    now = ts[-1]
    def signal(high: int) -> GroupSignal:  # 12 accounts on the address, ``high`` of them high
        return GroupSignal(
            "account:alice", "ip:" + FARM_IP, "accounts_per_ip", 12, 8, now, now + 3600, high
        )

    assert side_inputs.apply_group_signals(det, [signal(3)]).decisions == []
    out = side_inputs.apply_group_signals(det, [signal(11)])
    assert [(d.action, d.origin) for d in out.decisions] == [("challenge", "group")]
    assert out.decisions[0].reasons[0].endswith(
        "with anomaly_score 0.880 and 92% of its accounts scoring 0.85+"
    )


def test_records_and_states_carry_the_evidence_and_read_those_written_before() -> None:
    act = Activity("account:a", "192.0.2.1", T0, 3, 0.75)
    assert Activity.decode(act.encode()) == act
    old = orjson.dumps({"a": "account:a", "i": "192.0.2.1", "t": T0, "v": 3})
    assert Activity.decode(old).score == 0.0
    for bad in (1.5, -0.1, "0.9", True):
        raw = orjson.dumps({"a": "account:a", "i": "192.0.2.1", "t": T0, "v": 3, "s": bad})
        with pytest.raises(ValueError):
            Activity.decode(raw)
    sig = GroupSignal("account:a", "ip:192.0.2.1", "accounts_per_ip", 9, 8, T0, T0 + 60, 7)
    assert GroupSignal.decode(sig.encode()) == sig
    doc = orjson.loads(sig.encode())
    del doc["high"]
    assert GroupSignal.decode(orjson.dumps(doc)).high == 0
    for bad_high in (-1, 0.5, "7"):
        doc["high"] = bad_high
        with pytest.raises(ValueError):
            GroupSignal.decode(orjson.dumps(doc))
    assert GroupSignal("a", "g", "m", 0, 8, T0, T0, 3).high_share == 0.0  # never a division by 0

    g = GroupState()
    for i in range(12):
        g.add(Activity(f"account:{i}", "192.0.2.1", T0 + i, 2, 0.9 if i < 7 else 0.1))
    g.mostly_high = True
    h = GroupState.decode(g.encode())
    assert (h.scores, h.mostly_high, h.high(0.85, T0 - 1)) == (g.scores, True, 7)
    written_before = orjson.loads(g.encode())
    del written_before["sc"], written_before["m"]
    h = GroupState.decode(orjson.dumps(written_before))
    assert (h.scores, h.mostly_high, h.high(0.85, T0 - 1)) == ({}, False, 0)

    s = ActorState()
    s.group_reason, s.group_expires, s.group_share = "accounts_per_ip 9 > 8 (p_1)", T0, 0.7
    t = decode(encode(s))
    assert (t.group_reason, t.group_share) == (s.group_reason, 0.7)
    s.group_share = 0.0
    assert decode(encode(s)).group_share == 0.0 and len(encode(s)) == len(encode(t)) - 8
