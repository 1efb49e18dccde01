"""The evidence of a group as a whole: each activity carries its account's latest score
and whether that rests on evidence of its own, the correlator counts the group's evidenced
accounts that score high, and a member of a group that mostly does needs no sign of
automation of its own (``[groups] member_share_alone``)."""

from __future__ import annotations

import math
import struct

import orjson
import pytest

from stream.core import side_inputs
from stream.core.actor_codec import decode, encode
from stream.core.actor_state import ActorState
from stream.core.batch import Limits
from stream.core.correlation import TURN_MIN_S, GroupCorrelator
from stream.core.group_state import GroupState
from stream.core.internal_records import Activity, GroupSignal, group_share
from stream.core.partition_detector import PartitionDetector
from stream.core.policy_loader import load_policy, parse_policy
from tests.core.test_policy import flagged_member
from tests.helpers import T0, event, rec

POLICY = load_policy()  # accounts_per_ip > 8 (200 views); member_share_alone 0.5
FARM_IP = "198.51.100.9"


def farm(scores: list[float], ts: float = T0, evidenced: bool = True) -> list[Activity]:
    """One activity for each account on one address, 50 profile views each."""
    return [
        Activity(f"account:f{i}", FARM_IP, ts + i, 50, s, evidenced) for i, s in enumerate(scores)
    ]


def ip_signals(signals: list[GroupSignal]) -> list[GroupSignal]:
    return [s for s in signals if s.group == "ip:" + FARM_IP]


def test_a_signal_says_how_many_of_the_group_score_high() -> None:
    signals, _ = GroupCorrelator(POLICY).process(farm([0.99] * 10))
    sigs = ip_signals(signals)
    # crossed at the ninth account (all nine signalled), then the tenth: all high
    assert [(s.value, s.high, s.evidenced) for s in sigs] == [(9, 9, 9)] * 9 + [(10, 10, 10)]
    assert sigs[-1].high_share == 1.0
    office, _ = GroupCorrelator(POLICY).process(farm([0.9, 0.9] + [0.3] * 8))
    assert {s.high for s in ip_signals(office)} == {2}
    assert ip_signals(office)[-1].high_share == 0.2  # two of ten


def test_only_accounts_with_evidence_of_their_own_count_and_never_fewer_than_the_limit() -> None:
    # the farm's accounts without evidence of their own (a view or two an hour): counted
    # for the limit, but neither for nor against the share
    signals, _ = GroupCorrelator(POLICY).process(farm([0.99] * 10, evidenced=False))
    assert {(s.high, s.evidenced) for s in ip_signals(signals)} == {(0, 0)}
    # an office where two busy people have evidence, both scoring high: 2 of at least 9
    # (the limit's 8, plus one), not 2 of 2
    office = farm([0.9, 0.9], evidenced=True) + farm([0.3] * 10, T0 + 2, evidenced=False)[2:]
    signals, _ = GroupCorrelator(POLICY).process(office)
    last = ip_signals(signals)[-1]
    assert (last.high, last.evidenced, round(last.high_share, 3)) == (2, 2, 0.222)
    assert not POLICY.groups.mostly_high(last.high_share)
    assert group_share(3, 0, 8) == pytest.approx(3 / 9)
    assert group_share(12, 20, 8) == 0.6


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
    # back within TURN_MIN_S: not yet (a group at the line must not flood the detector)
    soon, _ = core.process(farm([0.2], T0 + 120 + TURN_MIN_S / 2))
    assert ip_signals(soon) == []
    # after it, once more, for all of them (4 of 10 now)
    back, _ = core.process(farm([0.2], T0 + 130 + TURN_MIN_S))  # the turn was at T0 + 124
    assert {s.high for s in ip_signals(back)} == {4} and len(ip_signals(back)) == 10


def test_a_group_at_the_line_re_signals_its_members_at_most_once_per_turn_interval() -> None:
    core = GroupCorrelator(POLICY)
    core.process(farm([0.9] * 10 + [0.3] * 10))  # 10 of 20 high: mostly high
    count = 0
    for minute in range(1, 31):  # one account's score jitters across 0.85 every minute
        score = 0.8 if minute % 2 else 0.9
        sigs, _ = core.process([Activity("account:f0", FARM_IP, T0 + 60 * minute, 50, score, True)])
        count += len(ip_signals(sigs))
    # 30 minutes, 20 members: at most one turn per TURN_MIN_S (6), not one a minute (30)
    assert count <= 20 * (30 * 60 // TURN_MIN_S + 1), count


def test_while_a_turn_waits_every_signal_says_what_the_last_turn_did() -> None:
    core = GroupCorrelator(POLICY)
    core.process(farm([0.9] * 10))  # mostly high from its crossing
    back, _ = core.process(farm([0.2] * 6, T0 + 400))  # 4 of 10: turned back at T0 + 405
    assert {s.high for s in ip_signals(back)} == {4}
    # high again at once (f0..f5 score 0.95), but a turn must wait: a newcomer is told
    # what the others were (not mostly high), not the current count
    sigs, _ = core.process(farm([0.95] * 6, T0 + 460))
    new, _ = core.process([Activity("account:new", FARM_IP, T0 + 470, 50, 0.1, True)])
    told = [s for s in ip_signals(sigs + new) if s.actor == "account:new"]
    assert len(told) == 1 and not POLICY.groups.mostly_high(told[0].high_share)
    # and once it may, everyone, the newcomer included, learns of the turn
    later, _ = core.process(farm([0.95], T0 + 720))
    assert "account:new" in {s.actor for s in ip_signals(later)}
    assert all(POLICY.groups.mostly_high(s.high_share) for s in ip_signals(later))


def test_a_group_that_crosses_its_limit_again_tells_its_members_how_it_scores_now() -> None:
    core = GroupCorrelator(POLICY)
    core.process(farm([0.9] * 10))  # flagged, mostly high: signals until T0 + 3600..
    # 61 minutes on, a group of 9 new accounts on the address, all low: the first eight
    # are under the limit (the group is no longer flagged), the ninth crosses it again
    people = [Activity(f"account:p{i}", FARM_IP, T0 + 3660 + i, 50, 0.2, True) for i in range(9)]
    sigs, _ = core.process(people)
    told = {s.actor: s for s in ip_signals(sigs)}
    assert set(told) == {f"account:p{i}" for i in range(9)}
    assert not any(POLICY.groups.mostly_high(s.high_share) for s in told.values())


def test_a_member_not_seen_since_keeps_its_signal_but_learns_of_a_turn() -> None:
    core = GroupCorrelator(POLICY)
    core.process(farm([0.3] * 10))  # flagged, not mostly high
    # 50 minutes on, f1..f5 score high: the group turns (at T0 + 3005), f0 (seen at T0, so
    # in the hour) is re-signalled with the others, until T0 + 6605
    sigs, _ = core.process(farm([0.9] * 10, T0 + 3000)[1:6])
    assert {s.actor: s.expires_at for s in ip_signals(sigs)}["account:f0"] == T0 + 6605
    core.process(farm([0.3] * 10, T0 + 3500)[6:])  # f6..f9 keep the group over its limit
    # over an hour after f0's last request they score low again: the group turns back,
    # and f0, not seen in the hour but its signal still in force, learns of it as it is
    sigs, _ = core.process(farm([0.3] * 10, T0 + 3700)[1:6])
    turned = {s.actor: s for s in ip_signals(sigs)}
    assert turned["account:f0"].expires_at == T0 + 6605  # not extended
    assert not POLICY.groups.mostly_high(turned["account:f0"].high_share)  # 4 of 9


def detector() -> PartitionDetector:
    from models import REGISTRY

    return PartitionDetector(
        "requests", 0, POLICY, REGISTRY.get("hst").build(), "hst@1", Limits(),
        clock=lambda: T0 + 86400,
    )  # fmt: skip


def test_an_address_s_group_is_nearer_evidence_than_its_subnet_s_and_both_are_held() -> None:
    """The group of an actor's address and that of its /24 each have a slot: the address's
    is in force over the /24's, and when it lapses the /24's held beside it is in force at
    once (before, one slot held either, and the /24's came back only with its next
    signal, up to half an hour later)."""
    det = detector()
    by_ip = GroupSignal(
        "account:a", "ip:" + FARM_IP, "accounts_per_ip", 12, 8, T0, T0 + 3600, 12, 12
    )
    by_subnet = GroupSignal(
        "account:a", "subnet:198.51.100.0/24", "accounts_per_subnet", 42, 20, T0 + 60,
        T0 + 3660, 3, 42,
    )  # fmt: skip
    side_inputs.apply_group_signals(det, [by_subnet])
    s = det.actors.get("account:a")
    assert s is not None
    assert s.group_flag(T0 + 100).startswith("accounts_per_subnet 42 > 20 (")
    side_inputs.apply_group_signals(det, [by_ip])
    assert s.group_flag(T0 + 100).startswith("accounts_per_ip 12 > 8 (")  # the nearer
    assert s.group_share_at(T0 + 100) == 1.0
    # a later signal of the /24 leaves the address's in force, and is kept beside it
    side_inputs.apply_group_signals(det, [by_subnet])
    assert s.group_flag(T0 + 3599).startswith("accounts_per_ip ")
    assert s.group_flag(T0 + 3600).startswith("accounts_per_subnet ")  # lapsed: the /24's
    assert s.group_share_at(T0 + 3600) == pytest.approx(3 / 42)
    assert (s.group_flag(T0 + 3660), s.group_share_at(T0 + 3660)) == ("", 0.0)
    # a late signal with an earlier expiry does not replace the one in force
    late = GroupSignal(
        "account:a", "ip:" + FARM_IP, "accounts_per_ip", 9, 8, T0 - 600, T0 + 3000, 0, 9
    )
    side_inputs.apply_group_signals(det, [late])
    assert (s.group_expires, s.group_share) == (T0 + 3600, 1.0)
    # both slots survive the state's encoding
    t = decode(encode(s))
    assert (t.group_reason, t.group_expires, t.group_share) == (
        s.group_reason, T0 + 3600, 1.0
    )  # fmt: skip
    assert (t.subnet_reason, t.subnet_expires, t.subnet_share) == (
        s.subnet_reason, T0 + 3660, pytest.approx(3 / 42)
    )  # fmt: skip


def test_a_forged_signal_neither_pins_nor_clears_a_flag() -> None:
    """Whoever can write to the group-signal topic: a signal from the future is refused
    (its expiry could lie beyond any event), an expiry is never further than a day (or
    the policy's ``signal_ttl_s`` when longer) after the signal, and one that does not
    come after it is refused."""
    det = detector()  # its clock: T0 + 1 day
    ttl = 86400.0  # the policy's signal_ttl_s is an hour

    def sig(ts: float, expires_at: float) -> GroupSignal:
        return GroupSignal("account:a", "ip:" + FARM_IP, "accounts_per_ip", 12, 8, ts, expires_at)

    out = side_inputs.apply_group_signals(det, [sig(T0 + 10 * 86400, T0 + 11 * 86400)])
    assert out.stats["skipped_group_signal"] == 1 and det.actors.get("account:a") is None
    side_inputs.apply_group_signals(det, [sig(T0, T0 + 10**9)])
    s = det.actors.get("account:a")
    assert s is not None and s.group_expires == T0 + ttl
    assert s.group_flag(T0 + ttl) == ""
    forged = orjson.loads(sig(T0, T0).encode())
    with pytest.raises(ValueError, match="after ts"):
        GroupSignal.decode(orjson.dumps(forged))


def test_a_slot_lapsed_a_day_before_the_newest_event_is_cleared() -> None:
    """It can never be in force again (older events are too late), and an actor holding
    one slot is written as the code of before wrote it."""
    det = detector()
    s = ActorState()
    det.actors.put("account:a", s)
    s.counters.last_ts = T0 + 2 * 86400
    s.group_reason, s.group_expires = "accounts_per_ip 9 > 8 (p_1)", T0 + 3600
    by_subnet = GroupSignal(
        "account:a", "subnet:198.51.100.0/24", "accounts_per_subnet", 42, 20, T0 + 86400,
        T0 + 86400 + 3600,
    )  # fmt: skip
    side_inputs.apply_group_signals(det, [by_subnet])
    assert (s.group_reason, s.group_expires) == ("", 0.0)
    assert s.subnet_reason.startswith("accounts_per_subnet ")
    s.group_reason, s.group_expires = "accounts_per_ip 9 > 8 (p_1)", T0 + 86400 + 1  # kept
    side_inputs.apply_group_signals(det, [by_subnet])
    assert s.group_reason and s.subnet_reason


def test_a_decision_on_a_subnet_s_signal_files_under_the_group_it_names() -> None:
    """An actor held by its address's group and signalled by its /24's: the decision
    names the address's group (in force), and goes to that group's incident."""
    det = detector()
    alice = ActorState()
    det.actors.put("account:a", alice)
    by_ip = GroupSignal("account:a", "ip:" + FARM_IP, "accounts_per_ip", 12, 8, T0, T0 + 3600)
    by_subnet = GroupSignal(
        "account:a", "subnet:198.51.100.0/24", "accounts_per_subnet", 42, 20, T0 + 60,
        T0 + 3660,
    )  # fmt: skip
    side_inputs.apply_group_signals(det, [by_ip])
    label = det.pseudo.group("ip:" + FARM_IP)
    flagged = flagged_member(0.999)  # a member whose own score acts (above 0.99)
    alice.counters, alice.behaviour, alice.score = flagged.counters, flagged.behaviour, 0.999
    out = side_inputs.apply_group_signals(det, [by_subnet])
    assert [d.reasons[0].split(" ", 1)[0] for d in out.decisions] == ["accounts_per_ip"]
    assert alice.enforcement.incident == label


def test_a_subnet_s_group_alone_is_written_and_read_as_with_one_slot() -> None:
    """Before, one slot held either group (bit 4). A /24's group alone is still written
    there, so a worker rolled back reads it; it is read back into the /24's slot."""
    s = ActorState()
    s.subnet_reason = "accounts_per_subnet 42 > 20 (198.51.100.0/24)"
    s.subnet_expires, s.subnet_share = T0 + 60, 0.25
    blob = encode(s)
    legacy = ActorState()  # what the code of before held: the /24's in the one slot, which
    legacy.group_reason, legacy.group_expires = s.subnet_reason, T0 + 60  # it wrote so
    legacy.group_share = 0.25
    assert encode(legacy) == blob
    assert len(blob) == len(encode(ActorState())) + 10 + len(s.subnet_reason) + 8
    t = decode(blob)
    assert (t.group_reason, t.group_expires, t.group_share) == ("", 0.0, 0.0)
    assert (t.subnet_reason, t.subnet_expires, t.subnet_share) == (
        s.subnet_reason, T0 + 60, 0.25
    )  # fmt: skip
    assert t.group_flag(T0) == s.subnet_reason


def test_a_forged_subnet_slot_or_group_metric_is_refused() -> None:
    s = ActorState()
    s.subnet_reason, s.subnet_expires, s.subnet_share = "accounts_per_subnet 42 > 20 (x)", T0, 0.5
    s.group_reason, s.group_expires = "accounts_per_ip 9 > 8 (p_1)", T0  # both: bit 32
    blob = encode(s)
    at = blob.index(b"accounts_per_subnet") - 18  # expires, share, length
    for bad in (math.nan, 1.5, -0.5):
        forged = blob[: at + 8] + struct.pack("<d", bad) + blob[at + 16 :]
        with pytest.raises(ValueError):
            decode(forged)
    renamed = blob.replace(b"accounts_per_subnet", b"accounts_per_ipxxxx")  # same length
    assert len(renamed) == len(blob)
    with pytest.raises(ValueError, match="group is inconsistent"):
        decode(renamed)
    for bad in (math.nan, math.inf):  # an expiry that is no time would pin or hide a flag
        forged = blob[:at] + struct.pack("<d", bad) + blob[at + 8 :]
        with pytest.raises(ValueError):
            decode(forged)
    both = blob
    at = both.index(b"accounts_per_ip") - 10  # the address's expiry, then the length
    with pytest.raises(ValueError, match="not a time"):
        decode(both[:at] + struct.pack("<d", math.nan) + both[at + 8 :])
    with pytest.raises(ValueError, match="unknown group metric"):
        decode(both.replace(b"accounts_per_ip 9", b"accounts_per_xx 9"))
    # a /24's reason where the address's goes, and a /24's slot beside it: refused
    addr = s.group_reason.encode()
    two = both.replace(addr, b"accounts_per_subnet " + b"x" * (len(addr) - 20))
    assert len(two) == len(both)
    with pytest.raises(ValueError, match="two groups of a /24"):
        decode(two)
    forged_sig = orjson.loads(
        GroupSignal("account:a", "ip:x", "accounts_per_ip", 9, 8, T0, T0 + 1).encode()
    )
    forged_sig["metric"] = "allowlisted_by_operator"
    with pytest.raises(ValueError, match="metric must be"):
        GroupSignal.decode(orjson.dumps(forged_sig))


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
    det = detector()
    # 10 profile views of its own, at a person's uneven pace, from a browser
    gaps = [0, 7, 31, 12, 55, 9, 140, 22, 18, 76]
    ts = [T0 + sum(gaps[: i + 1]) for i in range(10)]
    views = [rec(i, event(i, ts[i], target_profile_id=f"v{i}")) for i in range(10)]
    out = det.process(views[:9])
    assert out.activities and not any(a.evidenced for a in out.activities)  # 9 views
    out = det.process(views[9:])
    assert [a.evidenced for a in out.activities] == [True]  # 10 views in the hour
    alice = det.actors.get("account:alice")
    assert alice is not None
    alice.score = 0.88
    now = ts[-1]

    def signal(high: int) -> GroupSignal:  # 12 evidenced accounts, ``high`` of them high
        return GroupSignal(
            "account:alice", "ip:" + FARM_IP, "accounts_per_ip", 12, 8, now, now + 3600, high, 12
        )

    assert side_inputs.apply_group_signals(det, [signal(3)]).decisions == []
    out = side_inputs.apply_group_signals(det, [signal(11)])  # the turn, at the same time
    assert [(d.action, d.origin) for d in out.decisions] == [("challenge", "group")]
    assert (
        out.decisions[0]
        .reasons[0]
        .endswith("with anomaly_score 0.880 and 92% of its accounts scoring 0.85+")
    )


def test_records_and_states_carry_the_evidence_and_read_those_written_before() -> None:
    act = Activity("account:a", "192.0.2.1", T0, 3, 0.75, True)
    assert Activity.decode(act.encode()) == act
    old = orjson.dumps({"a": "account:a", "i": "192.0.2.1", "t": T0, "v": 3})
    assert (Activity.decode(old).score, Activity.decode(old).evidenced) == (0.0, False)
    for key, bad in (("s", 1.5), ("s", -0.1), ("s", "0.9"), ("s", True), ("e", 1), ("e", "y")):
        raw = orjson.dumps({"a": "account:a", "i": "192.0.2.1", "t": T0, "v": 3, key: bad})
        with pytest.raises(ValueError):
            Activity.decode(raw)
    sig = GroupSignal("account:a", "ip:192.0.2.1", "accounts_per_ip", 9, 8, T0, T0 + 60, 7, 9)
    assert GroupSignal.decode(sig.encode()) == sig
    doc = orjson.loads(sig.encode())
    del doc["high"], doc["evidenced"]
    assert (
        GroupSignal.decode(orjson.dumps(doc)).high,
        GroupSignal.decode(orjson.dumps(doc)).evidenced,
    ) == (0, 0)
    for key, bad_count in (("high", -1), ("high", 0.5), ("evidenced", "7"), ("threshold", -1)):
        bad_doc = dict(doc, **{key: bad_count})
        with pytest.raises(ValueError):
            GroupSignal.decode(orjson.dumps(bad_doc))

    g = GroupState()
    for i in range(12):
        g.add(Activity(f"account:{i}", "192.0.2.1", T0 + i, 2, 0.9 if i < 7 else 0.1, i != 0))
    g.told, g.turned_ts = (6, 11), T0 + 5
    h = GroupState.decode(g.encode())
    assert (h.scores, h.told, h.turned_ts) == (g.scores, (6, 11), T0 + 5)
    assert h.evidence(0.85, T0 - 1) == (6, 11)  # account 0 had no evidence of its own
    for key, bad in (("tl", [1]), ("tt", "nan"), ("sc", {"account:1": 7.0}), ("tl", [-1, 2])):
        forged = dict(orjson.loads(g.encode()), **{key: bad})
        with pytest.raises(ValueError):
            GroupState.decode(orjson.dumps(forged))
    written_before = orjson.loads(g.encode())
    del written_before["sc"], written_before["tt"], written_before["tl"]
    h = GroupState.decode(orjson.dumps(written_before))
    assert (h.scores, h.told, h.evidence(0.85, T0 - 1)) == ({}, (0, 0), (0, 0))


def test_an_actor_s_group_share_survives_its_state_and_a_bad_one_is_refused() -> None:
    s = ActorState()
    s.group_reason, s.group_expires, s.group_share = "accounts_per_ip 9 > 8 (p_1)", T0, 0.7
    blob = encode(s)
    t = decode(blob)
    assert (t.group_reason, t.group_share) == (s.group_reason, 0.7)
    s.group_share = 0.0
    assert decode(encode(s)).group_share == 0.0 and len(encode(s)) == len(blob) - 8
    # the share is the 8 bytes after the group's reason
    at = blob.index(s.group_reason.encode()) + len(s.group_reason)
    for bad in (math.nan, 1.5, -0.5):
        forged = blob[:at] + struct.pack("<d", bad) + blob[at + 8 :]
        with pytest.raises(ValueError):
            decode(forged)
    with pytest.raises(ValueError):
        decode(blob[: at + 4])  # cut inside the share
