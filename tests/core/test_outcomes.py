import orjson
import pytest

from stream.core.outcomes import KINDS, ActorOutcome, label_of


def outcome(**over: object) -> bytes:
    doc = {
        "v": 1,
        "outcome_id": "o-1",
        "actor": "account:42",
        "kind": "verdict_bot",
        "reason": "case 17",
        "by": "analyst",
        "ts": 1.7e9,
    }
    doc.update(over)
    return orjson.dumps({k: v for k, v in doc.items() if v is not None})


def test_round_trip_and_defaults() -> None:
    o = ActorOutcome.decode(outcome())
    assert (o.actor, o.kind, o.is_bot, o.decision_id) == ("account:42", "verdict_bot", True, "")
    assert ActorOutcome.decode(o.encode()) == o


@pytest.mark.parametrize(
    ("kind", "label"),
    [
        ("challenge_solved", False),
        ("challenge_failed", True),
        ("challenge_abandoned", None),
        ("verdict_bot", True),
        ("verdict_human", False),
        ("appeal_upheld", False),
        ("appeal_rejected", True),
    ],
)
def test_each_kind_carries_its_label(kind: str, label: bool | None) -> None:
    assert label_of(kind) is label
    assert ActorOutcome.decode(outcome(kind=kind)).is_bot is label


def test_the_kinds_are_the_documented_ones() -> None:
    assert set(KINDS) == {
        "challenge_solved", "challenge_failed", "challenge_abandoned",
        "verdict_bot", "verdict_human", "appeal_upheld", "appeal_rejected",
    }  # fmt: skip


def test_the_actor_is_normalised_like_the_detectors_actors() -> None:
    o = ActorOutcome.decode(outcome(actor="ip:2001:DB8::0001"))
    assert o.actor == "ip:2001:db8::1"


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (None, "no value"),
        (b"[]", "not a JSON object"),
        (outcome(kind="maybe"), "kind must be one of"),
        (outcome(kind=["verdict_bot"]), "kind must be one of"),
        (outcome(actor="range:192.0.2.0/24"), "not a range"),
        (outcome(actor="nobody"), "is not an actor"),
        (outcome(ts="now"), "ts must be"),
        (outcome(ts=True), "ts must be"),
        (outcome(outcome_id=""), "outcome_id"),
        (outcome(reason="x" * 501), "longer than 500"),
        (outcome(by="a\nb"), "control characters"),
        (outcome(v=2), "unknown version"),
    ],
)
def test_malformed_outcomes_are_refused_with_a_reason(raw: bytes | None, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        ActorOutcome.decode(raw)
