"""Operators' decisions in the detector: in force at once, honoured by the rules."""

from __future__ import annotations

import orjson
import pytest

from models import REGISTRY
from stream.core import side_inputs
from stream.core.actor_codec import decode, encode
from stream.core.batch import Limits
from stream.core.enforcement import Origin, origin_of
from stream.core.operator_records import ManualDecision, manual_key
from stream.core.partition_detector import PartitionDetector
from stream.core.policy_loader import load_policy
from stream.core.records import Decision
from stream.core.signing import sign
from tests.helpers import T0, Rec, event, rec

POLICY = load_policy()
KEY = manual_key(b"a control key of this test, 32+ bytes")


def detector(**limits: float) -> PartitionDetector:
    return PartitionDetector(
        "requests",
        0,
        POLICY,
        REGISTRY.get("hst").build(),
        "hst@1",
        Limits(**limits),  # type: ignore[arg-type]
        clock=lambda: T0 + 86400,
    )


def views(n: int, start: int = 0, step_s: float = 3.0, account: str = "bot") -> list[Rec]:
    return [
        rec(i, event(i, T0 + i * step_s, account, target_profile_id=str(10_000 + i)))
        for i in range(start, start + n)
    ]


def manual(
    op: str, action: str, ttl_s: float, ts: float, actor: str = "account:bot", mid: str = "m1"
) -> ManualDecision:
    return ManualDecision(mid, actor, op, action, ttl_s, "appeal 42", "alice", ts)


def test_manual_block_is_published_at_once_and_recorded_for_the_incident() -> None:
    det = detector()
    det.process(views(10))
    out = side_inputs.apply_manual_decisions(det, [manual("add", "block", 86400, T0 + 40)])
    (d,) = out.decisions
    assert (d.action, d.origin, d.by, d.ttl_s, d.expires_at) == (
        "block",
        "manual",
        "alice",
        86400,
        T0 + 40 + 86400,
    )
    assert d.reasons == ["manual: appeal 42"] and d.trigger_event_id == "manual:m1"
    (item,) = out.feed
    assert (item.kind, item.action, item.decision_id) == ("decision", "block", d.decision_id)
    assert list(out.changed) == ["account:bot"]
    # the block holds against the rules: later events of a quiet actor do not lift it
    later = det.process(views(5, start=10))
    assert later.decisions == []
    assert det.actors.peek("account:bot").enforcement.active(T0 + 100) == 2  # type: ignore[union-attr]


def test_manual_allow_keeps_the_rules_from_blocking_for_its_ttl() -> None:
    det = detector()
    first = det.process(views(600))
    assert [d.action for d in first.decisions] == ["challenge", "block"]
    lift_ts = T0 + 600 * 3.0
    out = side_inputs.apply_manual_decisions(det, [manual("add", "allow", 3600, lift_ts)])
    (d,) = out.decisions
    assert (d.action, d.origin, d.expires_at) == ("allow", "manual", lift_ts + 3600)
    # the actor keeps going, far over every limit: nothing during the allow ...
    during = det.process(views(600, start=600, step_s=1.0))
    assert during.decisions == []
    # ... and the rules act again once it is over
    after = det.process(
        [
            rec(5000 + i, event(5000 + i, lift_ts + 3700 + i, "bot", target_profile_id=str(i)))
            for i in range(5)
        ]
    )
    assert [d.action for d in after.decisions][:1] in (["challenge"], ["block"])
    assert all(d.origin == "rules" for d in after.decisions)


def test_delete_lifts_the_block_and_lands_in_the_blocks_incident() -> None:
    det = detector()
    blocked = det.process(views(600))
    block_keys = {i.key for i in blocked.feed if i.kind == "decision"}
    out = side_inputs.apply_manual_decisions(
        det, [manual("delete", "allow", 0, T0 + 1801, mid="m2")]
    )
    (d,) = out.decisions
    assert d.action == "allow" and d.reasons == ["manual_delete: appeal 42"]
    state = det.actors.peek("account:bot")
    assert state is not None and state.enforcement.active(T0 + 1802) == 0
    assert state.enforcement.allow_until == 0.0  # a plain delete: the rules may act again
    assert block_keys == {"subnet:198.51.100.0/24"} and out.feed[0].key in block_keys


def test_manual_decision_for_an_unknown_actor_creates_its_state() -> None:
    det = detector()
    out = side_inputs.apply_manual_decisions(
        det, [manual("add", "challenge", 600, T0, actor="range:203.0.113.0/24")]
    )
    (d,) = out.decisions
    assert d.action == "challenge" and d.as_dict()["scope"] == "range"
    assert d.as_dict()["value"] == "203.0.113.0/24"
    state = det.actors.peek("range:203.0.113.0/24")
    assert state is not None and decode(encode(state)).enforcement.origin == Origin.MANUAL


def test_an_actor_under_a_long_manual_decision_is_not_expired_when_idle() -> None:
    det = detector(actor_idle_ttl_s=3600)
    side_inputs.apply_manual_decisions(
        det, [manual("add", "block", 30 * 86400, T0, actor="account:long")]
    )
    det.process([rec(0, event(0, T0 + 10_000, "other"))])
    assert det.expire_idle() == []
    det.clock = lambda: T0 + 40 * 86400
    det.process([rec(1, event(1, T0 + 31 * 86400, "other"))])
    assert det.expire_idle() == ["account:long"]


@pytest.mark.parametrize(
    ("reasons", "origin"),
    [
        (["profiles_per_hour 400 > 300"], Origin.RULES),
        (["accounts_per_subnet 37 > 20 (203.0.113.0/24)"], Origin.GROUP),
        (["anomaly_score 0.999 > 0.995 with automation_ua"], Origin.MODEL),
        (["renewal", "anomaly_score 0.999 > 0.995", "ips_per_hour 13 > 12"], Origin.RULES),
    ],
)
def test_origin_of_reasons(reasons: list[str], origin: Origin) -> None:
    assert origin_of(reasons) == origin


def test_rule_decisions_say_their_origin() -> None:
    out = detector().process(views(600))
    assert {d.origin for d in out.decisions} == {"rules"}
    assert all(Decision.decode(d.encode()).origin == "rules" for d in out.decisions)


def _signed(doc: bytes | None, key: bytes = KEY) -> bytes | None:
    """``doc`` signed with ``key`` when it is a JSON object (else as it is)."""
    d = orjson.loads(doc) if doc is not None else None
    return sign(d, key) if isinstance(d, dict) else doc


@pytest.mark.parametrize(
    "doc",
    [
        b"{}",
        b'{"manual_id":"m","actor":"account:x","op":"add","action":"block","ttl_s":0,'
        b'"reason":"r","ts":1}',
        b'{"manual_id":"m","actor":"nobody","op":"add","action":"block","ttl_s":5,'
        b'"reason":"r","ts":1}',
        b'{"manual_id":"m","actor":"account:x","op":"delete","action":"block","ttl_s":5,'
        b'"reason":"r","ts":1}',
        b"[1]",
        None,
    ],
)
def test_malformed_manual_records_are_refused(doc: bytes | None) -> None:
    with pytest.raises(ValueError) as err:
        ManualDecision.decode(_signed(doc), KEY)
    assert "not signed" not in str(err.value)  # refused for what it says, signed or not


def test_a_manual_record_round_trips_signed() -> None:
    m = manual("add", "allow", 3600, T0, actor="ip:2001:db8::1")
    assert ManualDecision.decode(m.encode(KEY), KEY) == m


def test_a_manual_record_not_signed_with_the_deployments_key_is_refused() -> None:
    # (review of this stop) the topic was not signed: whoever could write it, a platform
    # service that publishes requests say, could allow its own scraper for ten years
    m = manual("add", "allow", 86400 * 3650, T0, actor="account:scraper")
    body = {k: getattr(m, k) for k in m.__slots__}
    forged = {
        "unsigned": orjson.dumps(body),
        "another key": m.encode(manual_key(b"another deployment's control key, 32+")),
        "the control key itself": m.encode(b"a control key of this test, 32+ bytes"),
        "a field changed after signing": m.encode(KEY).replace(b"scraper", b"scrapes"),
        "a signature of another type": orjson.dumps({**body, "sig": 1}),
    }
    for what, raw in forged.items():
        with pytest.raises(ValueError, match="not signed with this deployment's control key"):
            ManualDecision.decode(raw, KEY)
            pytest.fail(what)


def test_a_manual_record_appended_long_after_it_was_made_is_refused() -> None:
    # signed records can be appended again by a writer of the topic: an old allow, after
    # the block that replaced it, would lift that block. The topic stamps each record with
    # the broker's time (LogAppendTime), as the control topic does
    m = manual("add", "allow", 86400, T0)
    m.check_appended(T0 + 2.5, window_s=600, ahead_s=300)  # the CLI's own, a moment later
    m.check_appended(T0 - 300, window_s=600, ahead_s=300)  # a CLI clock ahead, in the skew
    for appended in (T0 + 601, T0 + 86400 * 30, T0 - 301, None):
        with pytest.raises(ValueError, match=r"appended again|no timestamp"):
            m.check_appended(appended, window_s=600, ahead_s=300)


def test_a_record_nested_too_deep_to_sign_is_refused_not_raised() -> None:
    # (review of this stop) checking a signature writes the body again as JSON, and orjson
    # refuses 255 levels with a TypeError: the worker stopped on such a record, at every
    # restart (its offset was never committed)
    deep = b'{"a":' + b"[" * 300 + b"]" * 300 + b',"sig":"00"}'
    with pytest.raises(ValueError, match="not signed"):
        ManualDecision.decode(deep, KEY)
