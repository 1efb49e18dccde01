import itertools
from typing import Any

import orjson
import pytest

from models import REGISTRY, ModelSpec
from stream.core.control import ControlRefused, ModelSlots, make, sign, verify

KEY = b"k1" * 16
HST = REGISTRY.get("hst").spec()
OCSVM = REGISTRY.get("ocsvm").spec()
_seq = itertools.count(1)


def mk(op: str, key: bytes = KEY, **kw: Any) -> bytes:
    return make(op, key, seq=kw.pop("seq", None) or next(_seq), **kw)


def body(**kw: Any) -> dict[str, Any]:
    import time

    return {"v": 2, "id": "m1", "issuer": "", "seq": 1, "issued_at": time.time(), **kw}


def test_signed_deploy_round_trip() -> None:
    cmd = verify(mk("deploy", spec=OCSVM, slot="shadow", issuer="ds@lab", seq=7), KEY)
    assert (cmd.op, cmd.slot, cmd.spec, cmd.issuer, cmd.seq) == (
        "deploy",
        "shadow",
        OCSVM,
        "ds@lab",
        7,
    )


@pytest.mark.parametrize(
    ("raw", "key", "reason"),
    [
        (mk("promote"), None, "no_key"),
        (b"\x80\x04\x95pickle", KEY, "malformed"),
        (b"[1]", KEY, "malformed"),
        (orjson.dumps({"op": "promote"}), KEY, "unsigned"),
        (mk("promote", b"other"), KEY, "bad_signature"),
        (sign(body(op="reboot"), KEY), KEY, "malformed"),
        (sign(body(op="promote", v=1), KEY), KEY, "malformed"),
        (sign(body(op="promote", seq=0), KEY), KEY, "malformed"),
        (sign(body(op="promote", seq="1"), KEY), KEY, "malformed"),
        (sign(body(op="promote", issued_at="yesterday"), KEY), KEY, "malformed"),
        (sign(body(op="deploy", slot="live", spec={"name": "x"}), KEY), KEY, "unknown_model"),
        (
            sign(body(op="deploy", slot="live", spec={"name": "hst", "version": "9"}), KEY),
            KEY,
            "unknown_model",
        ),
        (
            mk("deploy", slot="live", spec=ModelSpec("hst", "2", {"height": "tall"})),
            KEY,
            "invalid_params",
        ),
        (
            mk("deploy", slot="live", spec=ModelSpec("hst", "2", {"code": "import os"})),
            KEY,
            "invalid_params",
        ),
        (mk("deploy", slot="attic", spec=HST), KEY, "malformed"),
    ],
)
def test_refusals(raw: bytes, key: bytes | None, reason: str) -> None:
    with pytest.raises(ControlRefused) as err:
        verify(raw, key)
    assert err.value.reason == reason


def test_tampering_with_a_signed_message_breaks_it() -> None:
    msg = orjson.loads(mk("deploy", spec=OCSVM, slot="shadow"))
    msg["slot"] = "live"
    with pytest.raises(ControlRefused, match="bad_signature"):
        verify(orjson.dumps(msg), KEY)


def test_slots_shadow_promote_rollback() -> None:
    slots = ModelSlots(HST)

    def do(op: str, **kw: object) -> str:
        return slots.apply(verify(mk(op, **kw), KEY))  # type: ignore[arg-type]

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


def test_slots_remember_which_message_last_made_each_slot_another_model() -> None:
    # snapshots carry it, and one of an earlier model of the slot is refused (models/snapshot)
    slots = ModelSlots(HST)
    assert slots.changed_by == {}

    def do(op: str, **kw: object) -> str:
        cmd = verify(mk(op, **kw), KEY)
        slots.apply(cmd)  # type: ignore[arg-type]
        return cmd.id  # type: ignore[union-attr]

    shadow = do("deploy", spec=OCSVM, slot="shadow")
    assert slots.changed_by == {"shadow": shadow}
    promoted = do("promote")
    assert slots.changed_by["live"] == promoted
    redeployed = do("deploy", spec=OCSVM, slot="live")  # the same spec: a reset
    assert slots.changed_by["live"] == redeployed != promoted
    rolled_back = do("rollback")
    assert slots.changed_by["live"] == rolled_back
    do("policy", policy=POLICY_TEXT)
    assert slots.changed_by["live"] == rolled_back  # a policy leaves the models alone


def test_a_replayed_message_is_applied_once() -> None:
    slots = ModelSlots(HST)
    raw = mk("deploy", spec=OCSVM, slot="live")
    slots.apply(verify(raw, KEY))
    with pytest.raises(ControlRefused, match="replayed"):
        slots.apply(verify(raw, KEY))
    assert slots.history == [HST]


def test_next_seq_follows_each_issuer() -> None:
    slots = ModelSlots(HST)
    assert slots.next_seq("a") == 1
    slots.apply(verify(mk("deploy", spec=OCSVM, slot="shadow", issuer="a", seq=5), KEY))
    assert (slots.next_seq("a"), slots.next_seq("b")) == (6, 1)


POLICY_TEXT = "[limits]\nrequests_per_minute = { challenge = 5 }\n"


def test_signed_policy_round_trip_over_the_defaults() -> None:
    cmd = verify(mk("policy", policy=POLICY_TEXT, issuer="ops@x"), KEY)
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
        (mk("policy", policy='shadow = "false"'), "invalid_policy"),
        (mk("policy", policy="[limits\n"), "invalid_policy"),
        (mk("policy"), "invalid_policy"),  # no text
        (mk("policy", policy="#" * (256 * 1024 + 1)), "invalid_policy"),
        (mk("policy", b"other", policy=POLICY_TEXT), "bad_signature"),
        (
            orjson.dumps({**orjson.loads(mk("policy", policy=POLICY_TEXT)), "policy": ""}),
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
    from pydantic import SecretStr

    from stream.core.batch import Limits
    from stream.core.partition_detector import PartitionDetector
    from stream.core.policy_loader import load_policy
    from stream.runtime.model_lifecycle import ModelManager
    from stream.settings import Settings

    manager = ModelManager(
        Settings(control_key=SecretStr(KEY.decode()), snapshot_key=SecretStr("s" * 40))
    )
    seen = []
    manager.on_policy.append(seen.append)
    det = PartitionDetector("requests", 0, load_policy(), REGISTRY.build(HST), "hst@1", Limits())
    before = det.model
    manager.receive(mk("policy", policy=POLICY_TEXT))
    assert seen == []  # received, not applied: that waits for the end of the batch
    manager.apply_pending({0: det})
    assert len(seen) == 1 and seen[0].limits[0].challenge is not None
    assert det.model is before  # the models stay as they were
    assert manager.stats["control_applied_policy"] == 1
