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
        f"want every module {want}: stale = edited since the install (make install); "
        "python = not built (a C compiler and the Python headers are needed; "
        "pip install -v shows why)"
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


def test_the_core_tests_pass_on_the_python_core() -> None:
    """The suite runs the compiled core; the core's tests must pass on its sources too,
    which is what an install without a C compiler runs."""
    code = (
        "import sys\n"
        "from stream.core.compiled import use_python\n"
        "use_python()\n"
        "import pytest\n"
        "from stream.core import windows\n"
        "assert windows.__file__.endswith('.py'), windows.__file__\n"
        "sys.exit(pytest.main(['-q', '-n', '0', '-p', 'no:cacheprovider', 'tests/core',"
        " '--ignore=tests/core/test_compiled.py']))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert " passed" in out.stdout.splitlines()[-1]
