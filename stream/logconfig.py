"""structlog, configured once at the edge; stdlib logs (Faust, aiokafka) join the same stream.

JSON lines when stderr is not a terminal (or ``log_format=json``), coloured console
output otherwise. Identifiers of people are replaced by keyed-HMAC pseudonyms by a
processor, so a raw account id, IP or profile id never reaches the log unless
``SCRAPEGUARD_LOG_RAW_IDENTIFIERS=true``.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from stream.core.pseudonym import Pseudonymizer

ACTOR_KEYS = frozenset({"actor", "actors"})
ID_KEYS = frozenset(
    {"account_id", "session_id", "ip", "target_profile_id", "profile_id", "profile", "profiles"}
)


class PseudonymizeIdentifiers:
    """structlog processor: pseudonymise known identifier fields of every log event."""

    def __init__(self, pseudonymizer: Pseudonymizer) -> None:
        self.p = pseudonymizer

    def __call__(self, logger: WrappedLogger, method: str, event: EventDict) -> EventDict:
        if not self.p.enabled:
            return event
        for key, value in event.items():
            if key in ACTOR_KEYS:
                event[key] = self._map(value, self.p.actor)
            elif key in ID_KEYS:
                event[key] = self._map(value, self.p.token)
        return event

    @staticmethod
    def _map(value: Any, fn: Any) -> Any:
        if isinstance(value, str):
            return fn(value)
        if isinstance(value, list | tuple | set | frozenset):
            return [fn(v) if isinstance(v, str) else v for v in value]
        return value


def configure_logging(
    *,
    level: str = "info",
    fmt: str = "auto",
    pseudonymizer: Pseudonymizer,
    stream: TextIO | None = None,
) -> None:
    """Configure structlog and the stdlib root logger. Call once, from the CLI."""
    stream = stream or sys.stderr
    as_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        PseudonymizeIdentifiers(pseudonymizer),
    ]
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info if as_json else _identity,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # chatty third-party loggers stay at warning unless debugging
    if level != "debug":
        for name in ("aiokafka", "kafka", "faust", "mode", "aiohttp.access"):
            logging.getLogger(name).setLevel(logging.WARNING)


def _identity(logger: WrappedLogger, method: str, event: EventDict) -> EventDict:
    return event
