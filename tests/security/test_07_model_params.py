"""Finding 7: signed control messages carried unchecked model parameters: HST height 20
took 25 s and 628 MiB on the first learn; height -5 raised ``RecursionError``, which
escaped the per-record guard and crash-looped the agent at every restart (the control
topic replays); ``calibration_window`` was unbounded. Every numeric parameter now has a
declared range, checked before anything is built, and refused as ``invalid_params``.
"""

from __future__ import annotations

import time
import uuid

import pytest
from pydantic import SecretStr

from models import REGISTRY
from models.registry import InvalidParams
from stream.core.control import sign
from stream.runtime.model_lifecycle import ModelManager
from stream.settings import Settings

KEY = "a-control-key-held-by-operators-32b"
HST = REGISTRY.get("hst").spec()

BAD = [
    ("hst", {"height": 20}),
    ("hst", {"height": -5}),
    ("hst", {"height": 0}),
    ("hst", {"n_trees": 10_000}),
    ("hst", {"n_trees": 100, "height": 10}),  # each in range, the forest too big
    ("hst", {"window_size": 0}),
    ("hst", {"calibration_window": 10**9}),
    ("hst", {"seed": -1}),
    ("ocsvm", {"nu": 0.0}),
    ("ocsvm", {"calibration_window": 10**9}),
]


@pytest.mark.parametrize(("name", "params"), BAD, ids=[f"{n}-{p}" for n, p in BAD])
def test_out_of_range_parameters_are_refused_before_anything_is_built(
    name: str, params: dict[str, int | float]
) -> None:
    m = ModelManager(
        Settings(control_key=SecretStr(KEY), snapshot_key=SecretStr("s" * 40), model="hst")
    )
    entry = REGISTRY.get(name)
    body = {
        "v": 2,
        "id": uuid.uuid4().hex,
        "op": "deploy",
        "slot": "live",
        "issuer": "ops@host",
        "seq": 1,
        "issued_at": time.time(),
        "spec": {"name": name, "version": entry.version, "params": params},
    }
    started = time.monotonic()
    m.receive(sign(body, KEY.encode()))  # must not raise, whatever the parameters
    m.apply_pending({})
    assert time.monotonic() - started < 5
    assert m.slots.live == HST
    assert m.stats["control_refused_invalid_params"] == 1


@pytest.mark.parametrize(("name", "params"), BAD[:4] + BAD[5:], ids=str)
def test_the_cli_refuses_them_too(name: str, params: dict[str, int | float]) -> None:
    with pytest.raises(InvalidParams, match="within"):
        REGISTRY.get(name).spec(params)
