"""Records between scrapeguard's own agents, and their codecs (total decoders, like every
decoder of :mod:`stream.core.records`):

* :class:`Activity` (detector → correlator, ``<app>-ip-activity``),
* :class:`GroupSignal` (correlator → detector, ``<app>-group-signals``),
* :class:`FeedItem` (detector → incidents, ``<app>-incident-feed``),
* :class:`LedgerEntry` (``<app>-ledger``) and the incident summary (``incidents``),
* :class:`Member` (worker → every worker, ``<app>-members``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import orjson

from stream.core.records import int_of, json_object, number_of, text_of


@dataclass(slots=True)
class Activity:
    """One account on one IP during one detector batch (detector → correlator)."""

    actor: str
    ip: str
    ts: float
    views: int

    def encode(self) -> bytes:
        return orjson.dumps({"a": self.actor, "i": self.ip, "t": self.ts, "v": self.views})

    @classmethod
    def decode(cls, raw: bytes | None) -> Activity:
        what = "activity"
        d = json_object(raw, what)
        act = cls(
            text_of(d, "a", what),
            text_of(d, "i", what),
            number_of(d, "t", what),
            int_of(d, "v", what),
        )
        if not 0 <= act.views < 2**31:
            raise ValueError(f"{what}: v must be a count of profile views")
        return act


@dataclass(slots=True)
class GroupSignal:
    """An account belongs to a group that passed a ``[groups]`` limit (correlator → detector)."""

    actor: str
    group: str
    metric: str
    value: int
    threshold: int
    ts: float
    expires_at: float

    def reason_naming(self, where: str) -> str:
        """The decision reason; ``where`` names the group — a pseudonym or a range, never
        a raw address (:meth:`stream.core.pseudonym.Pseudonymizer.where`)."""
        return f"{self.metric} {self.value} > {self.threshold} ({where})"

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "actor": self.actor,
                "group": self.group,
                "metric": self.metric,
                "value": self.value,
                "threshold": self.threshold,
                "ts": self.ts,
                "expires_at": self.expires_at,
            }
        )

    @classmethod
    def decode(cls, raw: bytes | None) -> GroupSignal:
        what = "group signal"
        d = json_object(raw, what)
        return cls(
            text_of(d, "actor", what),
            text_of(d, "group", what),
            text_of(d, "metric", what),
            int_of(d, "value", what),
            int_of(d, "threshold", what),
            number_of(d, "ts", what),
            number_of(d, "expires_at", what),
        )


@dataclass(slots=True)
class FeedItem:
    """Detector → incidents: a decision, or an access by a flagged or watched actor."""

    kind: str  # decision | access
    key: str  # the incident key
    actor: str
    ts: float
    ip: str | None = None
    user_agent: str = ""
    profile: str | None = None  # pseudonym
    sealed: str | None = None  # encrypted profile id, when a ledger key is set
    fields: list[str] | None = None
    path: str = ""
    action: str = ""
    reasons: list[str] | None = None
    decision_id: str = ""

    def encode(self) -> bytes:
        return orjson.dumps(
            {k: getattr(self, k) for k in _FEED_KEYS if getattr(self, k) not in (None, "")}
        )

    @classmethod
    def decode(cls, raw: bytes | None) -> FeedItem:
        what = "feed item"
        d = json_object(raw, what)
        kind = d.get("kind")
        if kind not in ("decision", "access"):
            raise ValueError(f"{what}: kind must be decision or access")
        item = cls(
            kind, text_of(d, "key", what), text_of(d, "actor", what), number_of(d, "ts", what)
        )
        for f in fields(cls):
            if f.name in ("kind", "key", "actor", "ts") or f.name not in d:
                continue
            value = d[f.name]
            if f.name in ("fields", "reasons"):
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ValueError(f"{what}: {f.name} must be a list of strings")
            elif not isinstance(value, str):
                raise ValueError(f"{what}: {f.name} must be a string")
            setattr(item, f.name, value)
        return item


# the fields in order (compiled, a dataclass has no __slots__ to read them from)
_FEED_KEYS: tuple[str, ...] = tuple(f.name for f in fields(FeedItem))


@dataclass(slots=True)
class LedgerEntry:
    """One affected person of an incident (``<app>-ledger``, key = incident id)."""

    incident_id: str
    profile: str  # pseudonym
    sealed: str | None  # the profile id sealed with the ledger key
    fields: list[str]
    ts: float
    actor: str  # pseudonym of the actor that took it

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "incident_id": self.incident_id,
                "profile": self.profile,
                "sealed": self.sealed,
                "fields": self.fields,
                "ts": self.ts,
                "actor": self.actor,
            }
        )

    @classmethod
    def decode(cls, raw: bytes | None) -> LedgerEntry:
        what = "ledger entry"
        d = json_object(raw, what)
        sealed = d.get("sealed")
        flds = d.get("fields") or []
        if not isinstance(flds, list) or not all(isinstance(f, str) for f in flds):
            raise ValueError(f"{what}: fields must be a list of strings")
        return cls(
            text_of(d, "incident_id", what),
            text_of(d, "profile", what),
            sealed if isinstance(sealed, str) else None,
            list(flds),
            number_of(d, "ts", what),
            str(d.get("actor", "")),
        )


def encode_incident(summary: dict[str, Any]) -> bytes:
    """An incident summary as published on ``incidents`` (see :meth:`Incident.summary`)."""
    return orjson.dumps(summary)


def decode_incident(raw: bytes | None) -> dict[str, Any]:
    """An incident summary from ``incidents``: a JSON object with at least its id, status,
    version and times."""
    what = "incident"
    d = json_object(raw, what)
    text_of(d, "incident_id", what)
    if d.get("status") not in ("open", "closed"):
        raise ValueError(f"{what}: status must be open or closed")
    int_of(d, "version", what)
    number_of(d, "opened_at", what)
    number_of(d, "last_activity_at", what)
    return d


@dataclass(slots=True)
class Member:
    """A worker's announcement: its URL and the detector partitions it owns, signed
    (``sig``, :mod:`stream.core.peers`)."""

    worker: str
    url: str
    ts: float
    partitions: list[int]
    sig: str = ""

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "worker": self.worker,
                "url": self.url,
                "ts": self.ts,
                "partitions": self.partitions,
                "sig": self.sig,
            }
        )

    @classmethod
    def decode(cls, raw: bytes | None) -> Member:
        what = "member"
        d = json_object(raw, what)
        parts = d.get("partitions")
        if not isinstance(parts, list) or not all(
            isinstance(p, int) and not isinstance(p, bool) for p in parts
        ):
            raise ValueError(f"{what}: partitions must be a list of integers")
        sig = d.get("sig", "")
        return cls(
            text_of(d, "worker", what),
            text_of(d, "url", what),
            number_of(d, "ts", what),
            parts,
            sig if isinstance(sig, str) else "",
        )
