"""``scrapeguard config`` and where settings come from: options, environment, a file."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from stream.cli import main


def config(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, "config", "--json"], env=env or {})
    return result.exit_code, result.output


def test_effective_settings_with_secrets_masked() -> None:
    code, out = config(env={"SCRAPEGUARD_SASL_PASSWORD": "hunter2", "SCRAPEGUARD_PARTITIONS": "4"})
    assert code == 0, out
    doc = orjson.loads(out)
    assert doc["settings"]["partitions"] == 4 and doc["sources"]["partitions"] == (
        "SCRAPEGUARD_PARTITIONS"
    )
    assert doc["settings"]["sasl_password"] == "***" and "hunter2" not in out
    assert doc["settings"]["control_key"] is None  # unset secrets show as unset
    text = CliRunner().invoke(main, ["config"], env={"SCRAPEGUARD_SASL_PASSWORD": "hunter2"})
    assert "hunter2" not in text.output and "sasl_password" in text.output


def test_empty_environment_values_mean_unset() -> None:
    """What compose does with `SCRAPEGUARD_SASL_MECHANISM=` lines of an env file."""
    env = {
        "SCRAPEGUARD_SASL_MECHANISM": "",
        "SCRAPEGUARD_POLICY_FILE": "",
        "SCRAPEGUARD_WEB_PORT": "",
    }
    code, out = config(env=env)
    assert code == 0, out
    doc = orjson.loads(out)["settings"]
    assert doc["sasl_mechanism"] is None and doc["policy_file"] is None and doc["web_port"] == 6066


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SCRAPEGUARD_PARTITIONS": "0"}, "SCRAPEGUARD_PARTITIONS: Input should be greater"),
        ({"SCRAPEGUARD_SASL_MECHANISM": "MD5"}, "SCRAPEGUARD_SASL_MECHANISM: Input should be"),
        ({"SCRAPEGUARD_MODEL": "nope"}, "model: "),
        ({"SCRAPEGUARD_BROKR": "kafka://x"}, "SCRAPEGUARD_BROKR is not a setting"),
    ],
)
def test_invalid_settings_exit_non_zero(env: dict[str, str], message: str) -> None:
    result = CliRunner().invoke(main, ["config"], env=env)
    assert result.exit_code == 1 and message in result.output, result.output


def test_a_bad_policy_file_fails_the_preflight(tmp_path: Path) -> None:
    bad = tmp_path / "p.toml"
    bad.write_text('shadow = "false"\n')
    result = CliRunner().invoke(main, ["config"], env={"SCRAPEGUARD_POLICY_FILE": str(bad)})
    assert result.exit_code == 1 and f"{bad}:1: shadow must be true or false" in result.output


def test_toml_settings_file_under_environment_under_options(tmp_path: Path) -> None:
    f = tmp_path / "scrapeguard.toml"
    f.write_text('partitions = 4\napp_id = "from-file"\nweb_host = ""\n')
    code, out = config("--settings", str(f), env={"SCRAPEGUARD_APP_ID": "from-env"})
    doc = orjson.loads(out)
    assert (
        code == 0
        and doc["settings"]["partitions"] == 4
        and doc["sources"]["partitions"] == (f"{f}:1")
    )
    assert doc["settings"]["app_id"] == "from-env"  # the environment beats the file
    assert doc["settings"]["web_host"] == "127.0.0.1"  # empty means unset
    result = CliRunner().invoke(
        main, ["--settings", str(f), "decisions", "--broker", "http://x"], env={}
    )
    assert "  --broker: broker URL scheme" in result.output  # the option beats both


def test_env_settings_file_from_the_variable(tmp_path: Path) -> None:
    f = tmp_path / "scrapeguard.env"
    f.write_text("# comment\nSCRAPEGUARD_PARTITIONS=5\nSCRAPEGUARD_SASL_MECHANISM=\nOTHER=1\n")
    code, out = config(env={"SCRAPEGUARD_SETTINGS_FILE": str(f)})
    doc = orjson.loads(out)
    assert code == 0 and doc["settings"]["partitions"] == 5
    assert doc["sources"]["partitions"] == f"{f}:2" and doc["settings"]["sasl_mechanism"] is None


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("s.toml", "partitions = 4\nbrokr = 'x'\n", "s.toml:2: 'brokr' is not a setting"),
        ("s.toml", "partitions = 0\n", "s.toml:1: partitions: Input should be greater"),
        ("s.toml", "partitions = [", "not valid TOML"),
        ("s.env", "SCRAPEGUARD_PARTITONS=4\n", "s.env:1: SCRAPEGUARD_PARTITONS is not a setting"),
    ],
)
def test_settings_file_mistakes_name_file_and_line(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    f = tmp_path / name
    f.write_text(text)
    result = CliRunner().invoke(main, ["--settings", str(f), "config"], env={})
    assert result.exit_code == 1 and message in result.output, result.output
