"""The command line: help everywhere, clear errors."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from stream.cli import COMMANDS, main


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_help(command: str) -> None:
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output and len(result.output.splitlines()) > 4


def test_policy_prints_the_default_policy() -> None:
    result = CliRunner().invoke(main, ["policy"])
    assert result.exit_code == 0 and "[limits]" in result.output


def test_bad_broker_url_names_the_flag_the_user_typed() -> None:
    result = CliRunner().invoke(main, ["decisions", "--broker", "http://x:1"])
    assert result.exit_code == 1
    assert "  --broker: broker URL scheme must be kafka://, got 'http'" in result.output
    assert "SCRAPEGUARD_BROKER" not in result.output
    from_env = CliRunner().invoke(main, ["decisions"], env={"SCRAPEGUARD_BROKER": "http://x:1"})
    assert from_env.exit_code == 1 and "  SCRAPEGUARD_BROKER: broker URL" in from_env.output


def test_unreachable_broker_is_a_clear_error() -> None:
    from stream.harness.embedded_broker import free_port

    port = free_port()
    result = CliRunner().invoke(
        main,
        ["publish", "-", "--broker", f"kafka://127.0.0.1:{port}"],
        input="{}\n",
        env={"SCRAPEGUARD_CONNECT_TIMEOUT_S": "1"},
    )
    assert result.exit_code == 1
    assert f"no Kafka broker answered at kafka://127.0.0.1:{port}" in result.output
    assert "scrapeguard broker" in result.output


def test_missing_policy_file_is_refused() -> None:
    result = CliRunner().invoke(main, ["worker", "--policy", "/nonexistent/policy.toml"])
    assert result.exit_code == 2 and "does not exist" in result.output


WORKER_IMPORTS = """
import sys
from click.testing import CliRunner
from stream.cli import main
from stream.runtime.app import create_worker  # everything the worker builds
assert CliRunner().invoke(main, ["worker", "--help"]).exit_code == 0
print(",".join(sorted(m for m in sys.modules if m.startswith("stream.harness"))))
"""


def test_the_worker_imports_nothing_from_the_harness() -> None:
    out = subprocess.run(
        [sys.executable, "-c", WORKER_IMPORTS], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "", f"the worker imported {out.stdout.strip()}"


def test_the_harness_check_can_fail() -> None:
    """The check above sees a harness import when there is one."""
    probe = WORKER_IMPORTS.replace("import sys\n", "import sys\nimport stream.harness.demo\n", 1)
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "stream.harness.demo" in out.stdout
