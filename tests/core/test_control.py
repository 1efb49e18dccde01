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
            make("deploy", KEY, slot="live", spec=ModelSpec("hst", "1", {"height": "tall"})),
            KEY,
            "invalid_params",
        ),
        (
            make("deploy", KEY, slot="live", spec=ModelSpec("hst", "1", {"code": "import os"})),
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
