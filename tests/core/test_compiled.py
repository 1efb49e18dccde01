"""The compiled core (mypyc, built by ``pip install``: setup.py) against its sources."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

from stream.core.compiled import COMPILED, states

ROOT = Path(__file__).resolve().parents[2]


def test_the_install_compiled_every_module_it_names() -> None:
    """``make test`` installs the compiled core (the CI machine has a C compiler); with
    SCRAPEGUARD_PURE_PYTHON=1 at install, the sources. Never a mix, never a stale one."""
    want = "python" if os.environ.get("SCRAPEGUARD_PURE_PYTHON") == "1" else "compiled"
    got = states()
    assert set(got) == set(COMPILED)
    assert {name: kind for name, kind in got.items() if kind != want} == {}, (
        "reinstall (make install) after editing a compiled module"
    )


def _digest(*flags: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    out = subprocess.run(
        [sys.executable, "-m", "tests.core.core_digest", *flags, "12000"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        check=True,
        timeout=300,
    )
    doc: dict[str, Any] = orjson.loads(out.stdout.splitlines()[-1])
    return doc


def test_the_compiled_and_the_python_core_produce_the_same_outputs() -> None:
    """The bench mix with malformed events, through the detector and the correlator:
    every output and every persisted state byte for byte the same either way."""
    compiled, python = _digest(), _digest("--python")
    assert python["core"] == "python"
    if os.environ.get("SCRAPEGUARD_PURE_PYTHON") != "1":
        assert compiled["core"] == "compiled"
    outputs = compiled["outputs"]
    # the comparison covers each kind of output
    assert min(outputs[k] for k in ("decisions", "scores", "deadletters", "signals", "feed")) > 0
    assert compiled["outputs"] == python["outputs"]
    assert compiled["sha256"] == python["sha256"]
