"""Finding 1: code execution from a model snapshot.

The old unpickler admitted any name of any ``river.*``/``models.*`` module, and pickle
protocol 4 resolves dotted names, so ``river.datasets.base`` + ``os.system`` ran a
shell command during ``load()`` of a correctly signed snapshot (a leaked key). Snapshots
are now data (:mod:`models.state`): these tests sign the gadgets with the key and show
that nothing runs, and that the data-only equivalents of the gadgets are refused too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import pickle
import zlib
from pathlib import Path
from typing import Any

import orjson
import pytest

from models import REGISTRY
from models import snapshot as snap

# the data-only format is imported where it is used, so that the gadget tests above run
# (and fail) on code that predates it

KEY = b"a-leaked-but-correct-snapshot-key-32b"
SPEC = REGISTRY.get("hst").spec()
HST = REGISTRY.get("hst")


def _str(text: str) -> bytes:
    raw = text.encode()
    return pickle.SHORT_BINUNICODE + bytes([len(raw)]) + raw


def gadget(module: str, name: str, arg: bytes | str) -> bytes:
    """Protocol-4 pickle: ``module.name(arg)`` through STACK_GLOBAL (dotted names work)."""
    body = _str(arg) if isinstance(arg, str) else pickle.SHORT_BINBYTES + bytes([len(arg)]) + arg
    return (
        pickle.PROTO + b"\x04" + _str(module) + _str(name) + pickle.STACK_GLOBAL
        + body + pickle.TUPLE1 + pickle.REDUCE + pickle.STOP
    )


def signed_blob(payload: bytes, fmt: int) -> bytes:
    header = orjson.dumps(
        {"format": fmt, "spec": SPEC.as_dict(), "partition": 1, "slot": "live", "taken_at": 0.0},
        option=orjson.OPT_SORT_KEYS,
    )
    mac = hmac.new(KEY, header + b"\x00" + payload, hashlib.sha256).hexdigest()
    return orjson.dumps(
        {"header": header.decode(), "mac": mac, "payload": base64.b64encode(payload).decode()}
    )


def gadgets(marker: Path) -> list[bytes]:
    shell = f"touch {marker}"
    inner = gadget("os", "system", shell)  # the second, unrestricted pickle
    return [
        gadget("river.datasets.base", "os.system", shell),
        gadget("models.snapshot", "pickle.loads", inner),
    ]


@pytest.mark.parametrize("fmt", [1, 2])
@pytest.mark.parametrize("which", [0, 1])
def test_signed_pickle_gadgets_run_nothing(tmp_path: Path, fmt: int, which: int) -> None:
    marker = tmp_path / "pwned"
    blob = signed_blob(zlib.compress(gadgets(marker)[which]), fmt)
    with pytest.raises(snap.SnapshotRefused):
        snap.load(blob, KEY, SPEC, 1)
    assert not marker.exists(), "the snapshot ran a shell command"


FORMAT = "scrapeguard-state/1"


def _state(names: list[list[str]], root: Any) -> dict[str, Any]:
    return {"format": FORMAT, "names": names, "root": root}


DATA_GADGETS = {
    "dotted name through a module that imports os": _state(
        [["river.datasets.base", "os.system"]], {"$fn": 0}
    ),
    "os.system itself": _state([["os", "system"]], {"$fn": 0}),
    "builtins.eval": _state([["builtins", "eval"]], {"$fn": 0}),
    "getattr": _state([["builtins", "getattr"]], {"$fn": 0}),
    "an undeclared River class": _state([["river.datasets.base", "Dataset"]], {"$o": 0, "a": {}}),
    "a partial of os.system": _state(
        [["os", "system"]], {"$p": [{"$fn": 0}, {"$t": ["touch /tmp/x"]}, {"$d": {}}]}
    ),
    "a default factory of os.system": _state([["os", "system"]], {"$dd": {}, "f": {"$fn": 0}}),
    "a dunder attribute": _state(
        [["models.calibration", "QuantileCalibrator"]],
        {"$o": 0, "#": 0, "a": {"__class__": 1}},
    ),
    "a __setstate__ attribute": _state(
        [["models.calibration", "CalibratedScorer"]],
        {"$o": 0, "#": 0, "a": {"__setstate__": 1}},
    ),
    "an unknown slot": _state(
        [["models.calibration", "QuantileCalibrator"]],
        {"$o": 0, "#": 0, "s": {"evil": 1}},
    ),
    "a codec type that is not declared": _state(
        [["collections", "OrderedDict"]], {"$x": 0, "#": 0, "v": None}
    ),
    "nesting deeper than the bound": _state([], {"$l": [], "#": 0}),  # replaced below
}
_deep: Any = 1
for _ in range(1000):
    _deep = {"$t": [_deep]}
DATA_GADGETS["nesting deeper than the bound"] = _state([], _deep)


@pytest.mark.parametrize("case", sorted(DATA_GADGETS))
def test_data_only_equivalents_are_refused(case: str) -> None:
    from models.state import StateRefused

    with pytest.raises(StateRefused):
        HST.from_state(DATA_GADGETS[case])


def test_an_alias_of_a_declared_name_is_refused() -> None:
    from models.state import Allowlist, StateRefused
    from models.state_decoder import load

    # models.calibration imports bisect: declaring the name does not make the module one
    allow = Allowlist(functions=frozenset({("models.calibration", "bisect")}))
    with pytest.raises(StateRefused, match="alias"):
        load(_state([["models.calibration", "bisect"]], {"$fn": 0}), allow)


class Booby:
    """A declared class whose code must never run while it is rebuilt."""

    def __init__(self) -> None:
        raise AssertionError("__init__ ran")

    def __setstate__(self, state: object) -> None:
        raise AssertionError("__setstate__ ran")

    def __reduce__(self) -> Any:
        raise AssertionError("__reduce__ ran")

    def __setattr__(self, name: str, value: object) -> None:
        raise AssertionError("__setattr__ ran")


def test_rebuilding_runs_no_code_of_the_class() -> None:
    from models.state import Allowlist
    from models.state_decoder import load

    state = _state([[__name__, "Booby"]], {"$o": 0, "#": 0, "a": {"x": 1}})
    obj = load(state, Allowlist.of(Booby))
    assert type(obj) is Booby and obj.__dict__ == {"x": 1}


def test_the_node_bound_is_enforced() -> None:
    from models.state import Allowlist, StateRefused, dump
    from models.state_decoder import load

    state = dump(list(range(1000)))
    with pytest.raises(StateRefused, match="more than"):
        load(state, Allowlist(), max_nodes=100)


def test_a_real_snapshot_is_data_and_round_trips() -> None:
    model = HST.build()
    blob = snap.dump(model, SPEC, 1, KEY)
    payload = zlib.decompress(base64.b64decode(orjson.loads(blob)["payload"]))
    assert not payload.startswith(pickle.PROTO)
    assert orjson.loads(payload)["format"] == FORMAT
    assert isinstance(snap.load(blob, KEY, SPEC, 1), type(model))
