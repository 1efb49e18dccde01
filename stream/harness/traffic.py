"""Publishing request events and writing label files (simulation, replay, stress)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from stream.core.validation import actor_key_of
from stream.kafka.writer import Message, write_all
from stream.settings import Settings


def event_key(doc: dict[str, Any]) -> bytes | None:
    """The Kafka key of a request event: its actor (the worker re-keys the others)."""
    key = actor_key_of(doc)
    return key.encode() if key else None


def as_messages(topic: str, events: Iterable[dict[str, Any]]) -> Iterable[Message]:
    return ((topic, event_key(e), orjson.dumps(e), None) for e in events)


def publish_events(settings: Settings, events: Iterable[dict[str, Any]]) -> int:
    """Publish ``events`` to ``requests``, keyed by actor; how many were acknowledged."""
    return write_all(settings, as_messages(settings.topic_requests, events))


def write_events(path: Path, events: Iterable[dict[str, Any]]) -> None:
    """One JSON event per line (what ``--events`` options read), its directory made."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:  # streamed: ``events`` may be a replay's whole log
        out.writelines(orjson.dumps(e, option=orjson.OPT_APPEND_NEWLINE) for e in events)


def write_labels(path: Path, labels: dict[str, str]) -> None:
    """``actor label`` per line, sorted (what ``evaluate --labels`` reads)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{a} {lab}\n" for a, lab in sorted(labels.items())))
