"""Finding 3: a ``mac`` with a non-ASCII character made ``hmac.compare_digest`` raise
``TypeError`` during partition setup; aiokafka swallowed it, the partition was never
marked as owned and its records were never processed again. No key needed.

Every signature comparison is now total (refused, never raised), and restoring a
partition's model survives any snapshot: the model starts fresh.
"""

from __future__ import annotations

import orjson
import pytest
from pydantic import SecretStr

from models import REGISTRY
from models import snapshot as snap
from stream.core import control
from stream.core.partition_detector import PartitionDetector
from stream.core.policy_loader import load_policy
from stream.runtime.model_lifecycle import ModelManager
from stream.settings import Settings

KEY = b"the-snapshot-key-of-this-worker-32b"
SPEC = REGISTRY.get("hst").spec()


def forged(mac: object) -> bytes:
    outer = orjson.loads(snap.dump(REGISTRY.build(SPEC), SPEC, 0, KEY))
    outer["mac"] = mac
    return orjson.dumps(outer)


@pytest.mark.parametrize("mac", ["é" * 64, "\u0663" * 64, "\x00", 7, None, ["a"]])
def test_a_snapshot_with_a_strange_mac_is_refused_not_raised(mac: object) -> None:
    with pytest.raises(snap.SnapshotRefused):
        snap.load(forged(mac), KEY, SPEC, 0)


def test_partition_setup_survives_it_and_starts_the_model_fresh() -> None:
    settings = Settings(snapshot_key=SecretStr(KEY.decode()), model="hst")
    manager = ModelManager(settings)
    det = PartitionDetector(
        "requests", 0, load_policy(None), manager.fresh(SPEC), SPEC.label()
    )
    manager.restore(0, {"live:0": forged("é" * 64)}, det)  # must not raise
    assert manager.stats["snapshot_refused"] == 1
    assert det.model_label == SPEC.label()


@pytest.mark.parametrize("sig", ["é" * 64, "\u0663" * 64])
def test_a_control_message_with_a_non_ascii_signature_is_refused(sig: str) -> None:
    msg = orjson.loads(control.sign({"op": "promote", "v": 2}, KEY))
    msg["sig"] = sig
    with pytest.raises(control.ControlRefused) as err:
        control.verify(orjson.dumps(msg), KEY)
    assert err.value.reason == "bad_signature"
