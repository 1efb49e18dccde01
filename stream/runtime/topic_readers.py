"""One-shot reads of scrapeguard's own topics, for commands (the worker follows them live
in :mod:`stream.runtime.global_view`): the latest version of every incident, an incident's
ledger, and the model slots every worker derives from the control log.

Every read goes to the true end of its topic (:mod:`stream.kafka.read_to_end`); a record
that does not decode is skipped and counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from models import REGISTRY
from stream.core import control
from stream.core.internal_records import LedgerEntry, decode_incident
from stream.kafka.read_to_end import read_all
from stream.settings import Settings


def latest_incidents(settings: Settings) -> dict[str, dict[str, Any]]:
    """incident id → the newest version of its summary (empty when the topic is new)."""
    latest: dict[str, dict[str, Any]] = {}
    try:
        records = read_all(settings, settings.topic_incidents)
    except LookupError:
        return latest
    for rec in records:
        try:
            inc = decode_incident(rec.value)
        except ValueError:
            continue
        old = latest.get(inc["incident_id"])
        if old is None or inc["version"] >= old["version"]:
            latest[inc["incident_id"]] = inc
    return latest


def ledger_entries(settings: Settings, incident_id: str) -> list[LedgerEntry]:
    """The affected-people ledger of one incident."""
    out: list[LedgerEntry] = []
    key = incident_id.encode()
    for rec in read_all(settings, settings.ledger_topic):
        if rec.key != key:
            continue
        try:
            out.append(LedgerEntry.decode(rec.value))
        except ValueError:
            continue
    return out


@dataclass
class ControlLog:
    """The model slots the control log leads to, and the messages refused on the way."""

    slots: control.ModelSlots
    refused: list[str] = field(default_factory=list)


def control_key(settings: Settings) -> bytes | None:
    return settings.control_key.get_secret_value().encode() if settings.control_key else None


def model_slots(settings: Settings, offline: bool = False) -> ControlLog:
    """Fold the control topic the way every worker does (``offline``: defaults only)."""
    log = ControlLog(control.ModelSlots(REGISTRY.get(settings.model).spec(settings.model_params)))
    if offline:
        return log
    try:
        records = read_all(settings, settings.topic_control)
    except LookupError:
        return log
    key = control_key(settings)
    for rec in records:
        try:
            cmd = control.verify(
                rec.value,
                key,
                appended_at=control.appended_at(rec),
                window_s=settings.control_window_s,
            )
            log.slots.apply(cmd)
        except control.ControlRefused as exc:
            log.slots.record_refused(exc)
            log.refused.append(f"offset {rec.offset}: {exc}")
    return log
