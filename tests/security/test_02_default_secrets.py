"""Finding 2: public default secrets.

The snapshot and pseudonym keys had public defaults and the deploy examples shipped
``change-me`` values; nothing refused them, so (with finding 1) anyone who could write
the snapshot topic ran code on every worker. A worker now refuses to start — before
it touches the broker — without each of the four keys, with a placeholder, with a key
shorter than 32 bytes or with one key used twice, naming the setting to fix.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

from stream.cli import main
from stream.harness.embedded_broker import free_port

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
NAMES = [
    "SCRAPEGUARD_SNAPSHOT_KEY",
    "SCRAPEGUARD_CONTROL_KEY",
    "SCRAPEGUARD_PSEUDONYM_KEY",
    "SCRAPEGUARD_LEDGER_KEY",
]


def good_keys() -> dict[str, str | None]:
    """Four random keys, made here (not by the code under test)."""
    out: dict[str, str | None] = {n: secrets.token_urlsafe(48) for n in NAMES}
    out["SCRAPEGUARD_LEDGER_KEY"] = Fernet.generate_key().decode()
    return out


def start_worker(env: dict[str, str | None]) -> tuple[int, str]:
    """``scrapeguard worker`` against a port where no broker listens."""
    base: dict[str, str | None] = {k: None for k in os.environ if k.startswith("SCRAPEGUARD_")}
    base.update(
        {
            "SCRAPEGUARD_BROKER": f"kafka://127.0.0.1:{free_port()}",
            "SCRAPEGUARD_CONNECT_TIMEOUT_S": "1",
            "SCRAPEGUARD_WEB_PORT": "0",
            "SCRAPEGUARD_LOG_FORMAT": "json",
        }
    )
    base.update(env)
    result = CliRunner().invoke(main, ["worker"], env=base)
    return result.exit_code, result.output


def test_worker_refuses_to_start_without_its_keys() -> None:
    code, output = start_worker({})
    assert code == 1
    for name in NAMES:
        assert f"{name} is not set" in output
    assert "Kafka" not in output  # refused before connecting to anything


OLD_DEFAULTS = {
    "SCRAPEGUARD_SNAPSHOT_KEY": "scrapeguard-dev-snapshot-key-change-me",
    "SCRAPEGUARD_PSEUDONYM_KEY": "scrapeguard-dev-key-change-me",
    "SCRAPEGUARD_CONTROL_KEY": "change-me-to-a-third-long-random-secret",
    "SCRAPEGUARD_LEDGER_KEY": "REPLACE_WITH_A_FERNET_KEY_44_CHARS_BASE64_URLSAFE=",
}


@pytest.mark.parametrize("name", NAMES)
def test_worker_refuses_a_placeholder_key(name: str) -> None:
    env: dict[str, str | None] = good_keys()
    env[name] = OLD_DEFAULTS[name]
    code, output = start_worker(env)
    assert code == 1 and f"{name} is a published placeholder" in output


@pytest.mark.parametrize("name", [n for n in NAMES if n != "SCRAPEGUARD_LEDGER_KEY"])
def test_worker_refuses_a_short_or_reused_key(name: str) -> None:
    env: dict[str, str | None] = good_keys()
    env[name] = "x" * 31
    code, output = start_worker(env)
    assert code == 1 and f"{name} is shorter than 32 bytes" in output
    other = next(n for n in NAMES if n not in (name, "SCRAPEGUARD_LEDGER_KEY"))
    env[name] = env[other]
    code, output = start_worker(env)
    assert code == 1 and "is the same as" in output


def test_a_ledger_key_must_be_a_fernet_key() -> None:
    env: dict[str, str | None] = good_keys()
    env["SCRAPEGUARD_LEDGER_KEY"] = "y" * 64
    code, output = start_worker(env)
    assert code == 1 and "SCRAPEGUARD_LEDGER_KEY must be a Fernet key" in output


def test_good_keys_pass_the_check_and_the_worker_goes_on_to_the_broker() -> None:
    code, output = start_worker(good_keys())
    assert code == 1 and "no Kafka broker answered" in output  # past the key check


def test_deploy_examples_hold_no_usable_key() -> None:
    from stream import keys

    for path in [DEPLOY / "scrapeguard.env.example", *sorted(DEPLOY.rglob("*.yaml"))]:
        for line in path.read_text().splitlines():
            for name in NAMES:
                for sep in ("=", ": "):
                    if line.strip().startswith(name + sep):
                        value = line.split(sep, 1)[1].strip().strip('"')
                        assert not value or keys.is_placeholder(value), f"{path}: {line}"


def test_the_deploy_generator_makes_keys_a_worker_accepts() -> None:
    import subprocess

    from pydantic import SecretStr

    from stream import keys
    from stream.settings import Settings

    out = subprocess.run(
        ["sh", str(DEPLOY / "new-secrets.sh")], capture_output=True, text=True, check=True
    ).stdout
    values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    settings = Settings(**{k[12:].lower(): SecretStr(v) for k, v in values.items()})
    assert keys.key_problems(settings) == []


def test_run_generates_random_keys_once_with_mode_0600(tmp_path: Path) -> None:
    from stream import keys

    path = tmp_path / "keys.env"
    first = keys.load_or_create(path)
    assert set(first) == set(NAMES)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert keys.load_or_create(path) == first  # written once, read back after
    assert keys.load_or_create(tmp_path / "other.env") != first  # random, not a default
