import pickle
import random

import orjson
import pytest

from models import REGISTRY
from models import snapshot as snap

SPEC = REGISTRY.get("hst").spec()


@pytest.fixture
def trained():  # type: ignore[no-untyped-def]
    m = SPEC and REGISTRY.build(SPEC)
    r = random.Random(1)
    for _ in range(400):
        x = {"a": r.random(), "b": r.random() * 3}
        m.score_one(x)
        m.learn_one(x)
    return m


@pytest.mark.parametrize("name", [e.name for e in REGISTRY])
def test_every_model_survives_a_snapshot(name: str) -> None:
    entry = REGISTRY.get(name)
    model, spec = entry.build(), entry.spec()
    r = random.Random(2)
    for _ in range(400):
        x = {"a": r.random(), "b": r.random() * 3}
        model.score_one(x)
        model.learn_one(x)
    again = snap.load(snap.dump(model, spec, 5, b"key"), b"key", spec, 5)
    probe = {"a": 0.9, "b": 9.0}
    assert again.score_one(probe) == model.score_one(probe)


def test_wrong_key_spec_or_partition_is_refused(trained) -> None:  # type: ignore[no-untyped-def]
    blob = snap.dump(trained, SPEC, 1, b"key")
    with pytest.raises(snap.SnapshotRefused, match="bad signature"):
        snap.load(blob, b"other", SPEC, 1)
    with pytest.raises(snap.SnapshotRefused, match="partition"):
        snap.load(blob, b"key", SPEC, 2)
    other = REGISTRY.get("hst").spec({"n_trees": 5})
    with pytest.raises(snap.SnapshotRefused, match="not"):
        snap.load(blob, b"key", other, 1)
    with pytest.raises(snap.SnapshotRefused, match="not a snapshot"):
        snap.load(b"garbage", b"key", SPEC, 1)


def test_a_snapshot_of_another_slot_is_refused(trained) -> None:  # type: ignore[no-untyped-def]
    # signed by the worker, but a shadow's: republished under live:<p> (the snapshot topic
    # is compacted by slot and partition, and anyone who may write to it can) it would be
    # restored as the live model (second review)
    shadow = snap.dump(trained, SPEC, 1, b"key", "shadow", 1.0)
    with pytest.raises(snap.SnapshotRefused, match="'shadow' slot, not 'live'"):
        snap.load(shadow, b"key", SPEC, 1)
    assert snap.load(shadow, b"key", SPEC, 1, slot="shadow") is not None


def test_a_snapshot_of_an_earlier_model_of_the_slot_is_refused(trained) -> None:  # type: ignore[no-untyped-def]
    # a redeploy of the same spec resets a poisoned model: a snapshot from before it,
    # republished, would bring the poison back (second review). The slot's model is named
    # by the control message that last changed it, a position in the log, not a time.
    before = snap.dump(trained, SPEC, 1, b"key", "live", 1_000.0, generation="")
    with pytest.raises(snap.SnapshotRefused, match="before control message m-7"):
        snap.load(before, b"key", SPEC, 1, generation="m-7")
    since = snap.dump(trained, SPEC, 1, b"key", "live", 0.0, generation="m-7")
    assert snap.load(since, b"key", SPEC, 1, generation="m-7") is not None
    assert snap.load(before, b"key", SPEC, 1) is not None  # no control message yet


def test_tampered_payload_is_refused(trained) -> None:  # type: ignore[no-untyped-def]
    outer = orjson.loads(snap.dump(trained, SPEC, 1, b"key"))
    outer["payload"] = outer["payload"][:-8] + "AAAAAAA="
    with pytest.raises(snap.SnapshotRefused, match="bad signature"):
        snap.load(orjson.dumps(outer), b"key", SPEC, 1)


def test_refused_snapshots_raise_only_snapshot_refused() -> None:
    # bytes of every shape: a worker must be able to catch one exception and go on
    for blob in (b"", b"{}", b"[]", b'{"header": 1, "mac": 2, "payload": 3}', b"\xff" * 10):
        with pytest.raises(snap.SnapshotRefused):
            snap.load(blob, b"key", SPEC, 1)


def test_an_old_pickle_snapshot_is_refused() -> None:
    import base64
    import hashlib
    import hmac
    import zlib

    payload = zlib.compress(pickle.dumps({"a": 1}))
    header = orjson.dumps(
        {"format": 1, "spec": SPEC.as_dict(), "partition": 1, "slot": "live", "taken_at": 0.0},
        option=orjson.OPT_SORT_KEYS,
    )
    mac = hmac.new(b"key", header + b"\x00" + payload, hashlib.sha256).hexdigest()
    blob = orjson.dumps(
        {"header": header.decode(), "mac": mac, "payload": base64.b64encode(payload).decode()}
    )
    with pytest.raises(snap.SnapshotRefused, match="format"):
        snap.load(blob, b"key", SPEC, 1)
