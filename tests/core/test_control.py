import orjson
import pytest

from models import REGISTRY, ModelSpec
from stream.core.control import ControlRefused, ModelSlots, make, sign, verify

KEY = b"k1"
HST = REGISTRY.get("hst").spec()
OCSVM = REGISTRY.get("ocsvm").spec()


def test_signed_deploy_round_trip() -> None:
    cmd = verify(make("deploy", KEY, spec=OCSVM, slot="shadow", issuer="ds@lab"), KEY)
    assert (cmd.op, cmd.slot, cmd.spec, cmd.issuer) == ("deploy", "shadow", OCSVM, "ds@lab")


@pytest.mark.parametrize(
    ("raw", "key", "reason"),
    [
        (make("promote", KEY), None, "no_key"),
        (b"\x80\x04\x95pickle", KEY, "malformed"),
        (b"[1]", KEY, "malformed"),
        (orjson.dumps({"op": "promote"}), KEY, "unsigned"),
        (make("promote", b"other"), KEY, "bad_signature"),
        (sign({"op": "reboot"}, KEY), KEY, "malformed"),
        (sign({"op": "deploy", "slot": "live", "spec": {"name": "x"}}, KEY), KEY, "unknown_model"),
        (
            sign({"op": "deploy", "slot": "live", "spec": {"name": "hst", "version": "9"}}, KEY),
            KEY,
            "unknown_model",
        ),
        (
            make("deploy", KEY, slot="live", spec=ModelSpec("hst", "2", {"height": "tall"})),
            KEY,
            "invalid_params",
        ),
        (
            make("deploy", KEY, slot="live", spec=ModelSpec("hst", "2", {"code": "import os"})),
            KEY,
            "invalid_params",
        ),
        (make("deploy", KEY, slot="attic", spec=HST), KEY, "malformed"),
    ],
)
def test_refusals(raw: bytes, key: bytes | None, reason: str) -> None:
    with pytest.raises(ControlRefused) as err:
        verify(raw, key)
    assert err.value.reason == reason


def test_tampering_with_a_signed_message_breaks_it() -> None:
    msg = orjson.loads(make("deploy", KEY, spec=OCSVM, slot="shadow"))
    msg["slot"] = "live"
    with pytest.raises(ControlRefused, match="bad_signature"):
        verify(orjson.dumps(msg), KEY)


def test_slots_shadow_promote_rollback() -> None:
    slots = ModelSlots(HST)

    def do(op: str, **kw: object) -> str:
        return slots.apply(verify(make(op, KEY, **kw), KEY))  # type: ignore[arg-type]

    with pytest.raises(ControlRefused, match="no_shadow"):
        do("promote")
    with pytest.raises(ControlRefused, match="no_history"):
        do("rollback")
    do("deploy", spec=OCSVM, slot="shadow")
    assert (slots.live, slots.shadow) == (HST, OCSVM)
    assert "keeping what it learned" in do("promote")
    assert (slots.live, slots.shadow, slots.history) == (OCSVM, None, [HST])
    do("rollback")
    assert (slots.live, slots.history) == (HST, [])


def test_a_replayed_message_is_applied_once() -> None:
    slots = ModelSlots(HST)
    raw = make("deploy", KEY, spec=OCSVM, slot="live")
    slots.apply(verify(raw, KEY))
    with pytest.raises(ControlRefused, match="duplicate"):
        slots.apply(verify(raw, KEY))
    assert slots.history == [HST]


POLICY_TEXT = "[limits]\nrequests_per_minute = { challenge = 5 }\n"


def test_signed_policy_round_trip_over_the_defaults() -> None:
    cmd = verify(make("policy", KEY, policy=POLICY_TEXT, issuer="ops@x"), KEY)
    assert cmd.op == "policy" and cmd.policy is not None and len(cmd.policy_sha) == 64
    by_metric = {lim.metric: lim for lim in cmd.policy.limits}
    assert by_metric["requests_per_minute"].challenge == 5
    assert "profiles_per_hour" in by_metric  # the rest comes from the packaged defaults
    slots = ModelSlots(HST)
    assert slots.apply(cmd) == f"policy {cmd.policy_sha[:12]} is in force"
    assert slots.policy is cmd.policy and slots.as_dict()["policy"] == cmd.policy_sha
    assert slots.live == HST  # the models are untouched


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (make("policy", KEY, policy='shadow = "false"'), "invalid_policy"),
        (make("policy", KEY, policy="[limits\n"), "invalid_policy"),
        (make("policy", KEY), "invalid_policy"),  # no text
        (make("policy", KEY, policy="#" * (256 * 1024 + 1)), "invalid_policy"),
        (make("policy", b"other", policy=POLICY_TEXT), "bad_signature"),
        (
            orjson.dumps({**orjson.loads(make("policy", KEY, policy=POLICY_TEXT)), "policy": ""}),
            "bad_signature",  # the text was changed after signing
        ),
    ],
)
def test_bad_policy_messages_are_refused(raw: bytes, reason: str) -> None:
    with pytest.raises(ControlRefused) as exc:
        verify(raw, KEY)
    assert exc.value.reason == reason
    if reason == "invalid_policy" and b"false" in raw:
        assert "shadow must be true or false" in exc.value.detail


def test_the_model_manager_hands_a_policy_to_its_users_between_batches() -> None:
    from stream.core.partition_detector import Limits, PartitionDetector
    from stream.core.policy_loader import load_policy
    from stream.runtime.model_lifecycle import ModelManager
    from stream.settings import Settings

    manager = ModelManager(Settings(control_key="k1"))
    seen = []
    manager.on_policy.append(seen.append)
    det = PartitionDetector("requests", 0, load_policy(), REGISTRY.build(HST), "hst@1", Limits())
    before = det.model
    manager.receive(make("policy", KEY, policy=POLICY_TEXT))
    assert seen == []  # received, not applied: that waits for the end of the batch
    manager.apply_pending({0: det})
    assert len(seen) == 1 and seen[0].limits[0].challenge is not None
    assert det.model is before  # the models stay as they were
    assert manager.stats["control_applied_policy"] == 1
