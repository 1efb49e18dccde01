"""What every command shares: options, the settings object, clear errors."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError

from stream.core.pseudonym import Pseudonymizer
from stream.errors import UserError
from stream.logconfig import configure_logging
from stream.settings import Settings
from stream.settings_sources import SettingsFileError, Sources, settings_from, settings_sources

F = TypeVar("F", bound=Callable[..., Any])


def broker_option(fn: F) -> F:
    return click.option(
        "--broker",
        metavar="URL",
        default=None,
        help="Kafka bootstrap servers, kafka://host:port[,host:port] "
        "[env SCRAPEGUARD_BROKER; default kafka://127.0.0.1:9092].",
    )(fn)


def policy_option(fn: F) -> F:
    return click.option(
        "--policy",
        "policy_file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help="Policy TOML file [env SCRAPEGUARD_POLICY_FILE; default: the packaged policy, "
        "see `scrapeguard policy`].",
    )(fn)


def fpr_option(fn: F) -> F:
    """``--fpr``: the false-positive rate of 'recall at a fixed FPR' (evaluations)."""
    return click.option(
        "--fpr",
        type=click.FloatRange(0.0, 1.0, max_open=True),
        default=0.01,
        show_default=True,
        help="The false-positive rate for 'recall at a fixed FPR'.",
    )(fn)


def labels_option(fn: F) -> F:
    """``--labels FILE`` (repeatable): who is what, for the commands that evaluate (live
    and offline)."""
    return click.option(
        "--labels",
        "labels_paths",
        required=True,
        multiple=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="`id label` or `id,label` per line: actor keys (from `simulate`, `replay "
        "--labels-out`) or bare ids of a dataset (session/account/IP, matched to the run's "
        "actors); a CSV with a header naming its id and label columns; 1/0 under an "
        "is_bot or is_human column. Repeat it to read several files as one (a dataset's "
        "train and test annotations); an id labelled differently in two is an error.",
    )(fn)


def events_out_option(fn: F) -> F:
    """``--events-out``: the events also written as JSON lines."""
    return click.option(
        "--events-out",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Also write the events as JSON lines (for `models evaluate --events`).",
    )(fn)


def as_json_option(fn: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Machine-readable output (JSON).")(
        fn
    )


def out_option(default: str | None, what: str) -> Callable[[F], F]:
    """``--out DIR``: the same everywhere, a directory (created) that receives ``what``."""

    def deco(fn: F) -> F:
        return click.option(
            "--out",
            type=click.Path(file_okay=False, path_type=Path),
            default=Path(default) if default else None,
            show_default=default is not None,
            metavar="DIR",
            help=f"Directory (created when missing) for {what}.",
        )(fn)

    return deco


def _settings_file() -> Path | None:
    """``scrapeguard --settings FILE <command>`` (None: SCRAPEGUARD_SETTINGS_FILE or none)."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return None
    value = ctx.find_root().params.get("settings_file")
    return value if isinstance(value, Path) else None


def _flag(name: str) -> str:
    """The option of the running command that sets setting ``name`` (e.g. ``--broker``)."""
    ctx = click.get_current_context(silent=True)
    for param in ctx.command.params if ctx else []:
        if param.name == name and isinstance(param, click.Option):
            return max(param.opts, key=len)
    return "--" + name.replace("_", "-")


def build_settings(**overrides: Any) -> Settings:
    """Options of the command (None: not given) over SCRAPEGUARD_* over the settings file."""
    return build_settings_with_sources(**overrides)[0]


def build_settings_with_sources(**overrides: Any) -> tuple[Settings, Sources]:
    """:func:`build_settings`, and where each value came from; an invalid value is a
    one-line error naming what the user typed: the option, the variable or the file line."""
    src = settings_sources(_settings_file(), overrides)
    try:
        return settings_from(src), src
    except SettingsFileError as exc:
        raise click.ClickException(str(exc)) from None
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else "settings"
            origin = src.origin(name)
            where = (
                _flag(name)
                if origin == "option"
                else f"{origin}: {name}"
                if ":" in origin
                else origin
                if origin != "default"
                else name
            )
            lines.append(f"  {where}: {err['msg'].removeprefix('Value error, ')}")
        raise click.ClickException("invalid settings:\n" + "\n".join(lines)) from None


def pseudonymizer(settings: Settings) -> Pseudonymizer:
    """Pseudonyms under SCRAPEGUARD_PSEUDONYM_KEY (a worker refuses to start without one;
    other commands without one use a random key of their own: stable within the run)."""
    key = settings.pseudonym_key
    return Pseudonymizer(
        key.get_secret_value().encode() if key is not None else os.urandom(32),
        enabled=not settings.log_raw_identifiers,
    )


def setup_logging(settings: Settings, stream: Any = None) -> None:
    configure_logging(
        level=settings.log_level,
        fmt=settings.log_format,
        pseudonymizer=pseudonymizer(settings),
        stream=stream,
    )


def friendly_errors(fn: F) -> F:
    """Turn our expected failures into one-line CLI errors (exit code 1)."""
    from aiokafka.errors import KafkaError as AioKafkaError
    from kafka.errors import KafkaError

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (UserError, ValueError, LookupError, TimeoutError) as exc:
            raise click.ClickException(str(exc)) from None
        except (KafkaError, AioKafkaError) as exc:
            raise click.ClickException(
                f"Kafka: {exc} (is the broker at SCRAPEGUARD_BROKER / --broker running?)"
            ) from None

    return wrapper  # type: ignore[return-value]
