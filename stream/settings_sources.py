"""Where the settings come from: command-line options over ``SCRAPEGUARD_*`` variables
over a settings file (TOML, or a dotenv file of those variables), and which source gave
each value — for error messages and ``scrapeguard config``.

With :mod:`stream.settings` this is the only code that reads the environment; the CLI
builds the one :class:`~stream.settings.Settings` object here, at the edge.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stream.settings import Settings

ENV_PREFIX = "SCRAPEGUARD_"
SETTINGS_FILE_VAR = "SCRAPEGUARD_SETTINGS_FILE"


class SettingsFileError(ValueError):
    """The settings file cannot be read or names a setting that does not exist."""


@dataclass
class Sources:
    """What the user gave, by source (for error messages and ``scrapeguard config``)."""

    flags: dict[str, Any] = field(default_factory=dict)  # field -> value from an option
    env: dict[str, str] = field(default_factory=dict)  # field -> variable, set and non-empty
    file: Path | None = None
    file_keys: dict[str, int] = field(default_factory=dict)  # field -> line in the file

    def origin(self, name: str) -> str:
        if name in self.flags:
            return "option"
        if name in self.env:
            return self.env[name]
        if name in self.file_keys:
            return f"{self.file}:{self.file_keys[name]}"
        return "default"


def settings_sources(settings_file: Path | None, flags: dict[str, Any]) -> Sources:
    """Which settings the options, the environment and the settings file give."""
    env = {
        name: ENV_PREFIX + name.upper()
        for name in Settings.model_fields
        if os.environ.get(ENV_PREFIX + name.upper(), "") != ""
    }
    path = settings_file or (
        Path(os.environ[SETTINGS_FILE_VAR]) if os.environ.get(SETTINGS_FILE_VAR) else None
    )
    return Sources({k: v for k, v in flags.items() if v is not None}, env, path)


def load_settings(settings_file: Path | None = None, **flags: Any) -> tuple[Settings, Sources]:
    """Options (``flags``; None = not given) over the environment over the settings file."""
    src = settings_sources(settings_file, flags)
    return settings_from(src), src


def settings_from(src: Sources) -> Settings:
    """The settings ``src`` gives. Raises :class:`SettingsFileError` for a bad file and
    pydantic's ValidationError for a bad value (``src.origin`` says where it came from)."""
    given: dict[str, Any] = dict(src.flags)
    if src.file is None:
        return Settings(**given)
    if src.file.suffix == ".toml":
        values, src.file_keys = _read_toml(src.file)
        given = {**{k: v for k, v in values.items() if k not in src.env}, **given}
        return Settings(**given)
    src.file_keys = _check_dotenv(src.file)
    return Settings(_env_file=src.file, **given)


def _read_toml(path: Path) -> tuple[dict[str, Any], dict[str, int]]:
    try:
        text = path.read_text()
        doc = tomllib.loads(text)
    except OSError as exc:
        raise SettingsFileError(f"cannot read settings file {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsFileError(f"{path}: not valid TOML: {exc}") from None
    lines = {}
    for key in doc:
        line = next(
            (n for n, t in enumerate(text.splitlines(), 1) if t.split("=")[0].strip() == key), 0
        )
        if key not in Settings.model_fields:
            raise SettingsFileError(f"{path}:{line}: {key!r} is not a setting")
        if doc[key] != "":  # empty means unset
            lines[key] = line
    return {k: v for k, v in doc.items() if k in lines}, lines


def _check_dotenv(path: Path) -> dict[str, int]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise SettingsFileError(f"cannot read settings file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SettingsFileError(f"{path}: not a text file") from None
    lines = {}
    for n, line in enumerate(text.splitlines(), 1):
        name, eq, value = line.removeprefix("export ").partition("=")
        name = name.strip()
        if not name.startswith(ENV_PREFIX) or not eq or name == SETTINGS_FILE_VAR:
            continue
        key = name[len(ENV_PREFIX) :].lower()
        if key not in Settings.model_fields:
            raise SettingsFileError(f"{path}:{n}: {name} is not a setting")
        if value.strip().strip("'\"") != "":  # empty means unset
            lines[key] = n
    return lines


def unknown_variables() -> list[str]:
    """``SCRAPEGUARD_*`` variables in the environment that are no setting (typos)."""
    known = {ENV_PREFIX + n.upper() for n in Settings.model_fields} | {SETTINGS_FILE_VAR}
    return sorted(k for k in os.environ if k.startswith(ENV_PREFIX) and k not in known)
