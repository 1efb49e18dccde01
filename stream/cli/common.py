"""What every command shares: options, the settings object, clear errors."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError

from stream.core.pseudonym import Pseudonymizer
from stream.errors import UserError
from stream.logconfig import configure_logging
from stream.settings import Settings

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


def build_settings(**overrides: Any) -> Settings:
    """Environment (SCRAPEGUARD_*) plus the command line's explicit options."""
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "settings"
            lines.append(f"  SCRAPEGUARD_{where.upper()}: {err['msg']}")
        raise click.ClickException("invalid settings:\n" + "\n".join(lines)) from None


def pseudonymizer(settings: Settings) -> Pseudonymizer:
    return Pseudonymizer(
        settings.pseudonym_key.get_secret_value().encode(), enabled=not settings.log_raw_identifiers
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
