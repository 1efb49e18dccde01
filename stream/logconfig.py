"""structlog, configured once at the edge; stdlib logs (Faust, aiokafka) join the same stream.

JSON lines when stderr is not a terminal (or ``log_format=json``), coloured console
output otherwise. Identifiers of people are replaced by keyed-HMAC pseudonyms by a
processor, so a raw account id, IP or profile id never reaches the log unless
``SCRAPEGUARD_LOG_RAW_IDENTIFIERS=true``. Tracebacks carry no local variables (they
would hold the events, and so the identifiers, being processed).
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from stream.core.pseudonym import Pseudonymizer

ACTOR_KEYS = frozenset({"actor", "actors"})
GROUP_KEYS = frozenset({"group"})
# A decoder's message quotes what it refused (a record's key, the actor it names, an
# address): in the error text of the events that report a refused record, every quoted
# part is pseudonymised as an actor. Other events' errors (Kafka's, the broker's) are left
# alone: their quotes name hosts and settings, not people.
REFUSAL_EVENTS = frozenset({"bad_record", "actor_state_unreadable"})
REFUSAL_SUFFIX = "_skipped"  # activity_skipped, manual_decision_skipped, ...
# a quote not inside a word (so "the actor's 'x'" pairs the right quotes)
QUOTED = re.compile(r"(?<!\w)'((?:[^'\\]|\\.)*)'(?!\w)|(?<!\w)\"((?:[^\"\\]|\\.)*)\"(?!\w)")
#: field name → kind of identifier (each kind has a pseudonym key of its own)
ID_KEYS = {
    "account_id": "account",
    "session_id": "session",
    "ip": "ip",
    "target_profile_id": "profile",
    "profile_id": "profile",
    "profile": "profile",
    "profiles": "profile",
}


def _refusal(event: EventDict) -> bool:
    name = event.get("event")
    return isinstance(name, str) and (name in REFUSAL_EVENTS or name.endswith(REFUSAL_SUFFIX))


class PseudonymizeIdentifiers:
    """structlog processor: pseudonymise known identifier fields of every log event.

    Every value of those fields is pseudonymised: nothing is taken for a pseudonym
    because of how it looks (an account may be called ``p_…``)."""

    def __init__(self, pseudonymizer: Pseudonymizer) -> None:
        self.p = pseudonymizer

    def __call__(self, logger: WrappedLogger, method: str, event: EventDict) -> EventDict:
        if not self.p.enabled:
            return event
        p = self.p
        for key, value in event.items():
            if key in ACTOR_KEYS:
                event[key] = self._map(value, p.actor)
            elif key in GROUP_KEYS:
                event[key] = self._map(value, p.group)
            elif key == "error" and isinstance(value, str) and _refusal(event):
                event[key] = QUOTED.sub(self._quoted, value)
            elif key in ID_KEYS:
                kind = ID_KEYS[key]
                event[key] = self._map(value, lambda v, kind=kind: p.token(v, kind))
        return event

    def _quoted(self, m: re.Match[str]) -> str:
        inner = m.group(1) if m.group(1) is not None else m.group(2)
        if not inner:
            return m.group(0)
        try:
            return repr(self.p.actor(inner))
        except UnicodeError:  # a lone surrogate (a header's bytes that are not UTF-8)
            return "'<not UTF-8>'"

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
        else structlog.dev.ConsoleRenderer(
            colors=stream.isatty(), exception_formatter=_traceback_without_locals()
        )
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


def _traceback_without_locals() -> structlog.typing.ExceptionRenderer:
    """rich's tracebacks, but ``show_locals=False`` (structlog's default shows them)."""
    try:
        import rich  # noqa: F401
    except ImportError:  # pragma: no cover - rich is a dependency
        return structlog.dev.plain_traceback
    return structlog.dev.RichTracebackFormatter(show_locals=False)
