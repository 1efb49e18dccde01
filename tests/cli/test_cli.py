"""The command line: help everywhere, clear errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
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
from pathlib import Path
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


def test_a_worker_without_a_broker_prints_one_clean_error_line() -> None:
    from stream import keys
    from stream.harness.embedded_broker import free_port

    port = free_port()
    out = subprocess.run(
        [sys.executable, "-m", "stream", "worker", "--broker", f"kafka://127.0.0.1:{port}"],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            **keys.generate(),  # past the key check (tests/security/test_02_default_secrets.py)
            "SCRAPEGUARD_CONNECT_TIMEOUT_S": "2",
            "SCRAPEGUARD_LOG_FORMAT": "json",
        },
    )
    lines = (out.stdout + out.stderr).splitlines()
    assert out.returncode == 1
    assert len(lines) == 1 and lines[0].startswith(
        f"Error: no Kafka broker answered at kafka://127.0.0.1:{port}"
    ), lines


def _every_command() -> list[tuple[str, click.Command]]:
    """Every command of the lazy group, subcommands included, with its full name."""
    ctx = click.Context(main)
    out: list[tuple[str, click.Command]] = []

    def walk(cmd: click.Command, path: str) -> None:
        out.append((path, cmd))
        if isinstance(cmd, click.Group):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                assert sub is not None, name
                walk(sub, f"{path} {name}")

    walk(main, "scrapeguard")
    return out


def test_every_option_of_every_command_has_help() -> None:
    commands = _every_command()
    assert len(commands) > len(COMMANDS)  # the walk reaches the subcommands too
    missing = [
        f"{path} {max(p.opts, key=len)}"
        for path, cmd in commands
        for p in cmd.params
        if isinstance(p, click.Option) and "--help" not in p.opts and not (p.help or "").strip()
    ]
    assert missing == []
    assert all((cmd.help or "").strip() for _, cmd in commands)


def test_out_is_a_directory_everywhere() -> None:
    outs = [
        (path, p)
        for path, cmd in _every_command()
        for p in cmd.params
        if isinstance(p, click.Option) and "--out" in p.opts
    ]
    assert len(outs) >= 6
    for path, p in outs:
        assert isinstance(p.type, click.Path) and not p.type.file_okay, path
        assert p.metavar == "DIR", path


LISTINGS = [
    "decisions",
    "explain",
    "config",
    "incidents list",
    "models list",
    "models compare",
    "models evaluate",
    "policy check",
]


@pytest.mark.parametrize("listing", LISTINGS)
def test_listing_commands_have_json(listing: str) -> None:
    cmd = dict(_every_command())[f"scrapeguard {listing}"]
    assert any("--json" in p.opts for p in cmd.params)


def test_models_deploy_refuses_shadow_and_live_together() -> None:
    result = CliRunner().invoke(main, ["models", "deploy", "hst", "--shadow", "--live"])
    assert result.exit_code == 2 and "--shadow and --live exclude each other" in result.output
    neither = CliRunner().invoke(main, ["models", "deploy", "hst"])
    assert neither.exit_code == 2 and "say --shadow or --live" in neither.output


def test_models_evaluate_on_a_malformed_file_names_file_and_line(tmp_path: Path) -> None:
    events, labels = tmp_path / "ev.jsonl", tmp_path / "labels.txt"
    events.write_text('{"event_id": "a", "ts": 1790000000, "path": "/", "status": 200}\n{"b":\n')
    labels.write_text("account:a human\n")
    args = ["models", "evaluate", "hst", "--events", str(events), "--labels", str(labels)]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "r")])
    assert result.exit_code == 1
    assert f"Error: {events}:2: not JSON (unexpected end of data: line 1" in result.output
    labels.write_text("# actors\naccount:a human\naccount:b\n")
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "r")])
    assert result.exit_code == 1 and f"{labels}:3: expected 'id label'" in result.output


def test_simulate_writes_a_policy_that_allowlists_its_crawler(tmp_path: Path) -> None:
    from stream.core.policy_loader import load_policy

    policy = tmp_path / "policy.toml"
    result = CliRunner().invoke(
        main,
        ["simulate", "--actors", "20", "--hours", "1", "--no-publish", "--mix",
         "allowlisted_crawler=1", "--labels", str(tmp_path / "l.txt"), "--policy-out", str(policy),
         "--end-ts", "2026-11-26T18:00:00Z"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    from stream.harness.personas.gen import CRAWLER_NET

    ua, ip = "Mozilla/5.0 (compatible; ExampleSearchBot/2.1)", f"{CRAWLER_NET}.9"
    assert load_policy(policy).allowlist.matches("ip:" + ip, ip, ua)
    assert not load_policy(None).allowlist.matches("ip:" + ip, ip, ua)  # not by default
