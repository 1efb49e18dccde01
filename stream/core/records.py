"""Wire records: every kind of message scrapeguard reads or writes on Kafka, and its codec.

Plain slotted dataclasses, encoded and decoded with orjson, each in exactly one place
(here). Decoders are total: whatever the bytes, they return a record or raise
:class:`ValueError` — never another exception — so the caller has one thing to catch.

* :class:`RequestEvent` comes in on ``requests``; it is decoded by
  :func:`stream.core.validation.validate` (the contract has reasons for each refusal).
* :class:`Decision` (``decisions``), :class:`DeadLetter` (``deadletter``),
  :class:`Score` (``<app>-scores``), :class:`LedgerEntry` (``<app>-ledger``) and the
  incident summary (``incidents``) go out.
* :class:`Activity` (detector → correlator), :class:`GroupSignal` (correlator →
  detector), :class:`FeedItem` (detector → incidents) and :class:`Member` (worker →
  every worker) are internal.
* :class:`ManualDecision` (``<app>-manual-decisions``: CLI → detector) and
  :class:`BouncerKey` (``<app>-bouncers``: CLI → every worker) come from operators.
* Control messages are signed: their codec is :mod:`stream.core.control`.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field, fields
from typing import Any

import orjson

from stream.core.actor_ref import parse_actor


def json_object(raw: bytes | None, what: str) -> dict[str, Any]:
    """``raw`` as a JSON object, or ValueError naming ``what`` it should have been."""
    if raw is None:
        raise ValueError(f"{what}: no value")
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"{what}: not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise ValueError(f"{what}: not a JSON object")
    return doc


def _text(doc: dict[str, Any], key: str, what: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str):
        raise ValueError(f"{what}: {key} must be a string")
    return value


def _number(doc: dict[str, Any], key: str, what: str, default: float | None = None) -> float:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what}: {key} must be a number")
    return float(value)


def _int(doc: dict[str, Any], key: str, what: str) -> int:
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what}: {key} must be an integer")
    return value


@dataclass(slots=True)
class RequestEvent:
    """One request that returned personal data (docs/architecture.md, "Request event")."""

    event_id: str
    ts: float
    actor: str
    account_id: str | None
    session_id: str | None
    ip: str | None
    user_agent: str
    method: str
    path: str
    status: int
    target_profile_id: str | None = None
    account_created_ts: float | None = None
    fields: list[str] | None = None
    tenant: str | None = None
    # None: the producer does not send referrers; "": the request had none
    referrer: str | None = None


@dataclass(slots=True)
class Source:
    """Where a Kafka record came from."""

    topic: str
    partition: int
    offset: int

    def as_dict(self) -> dict[str, Any]:
        return {"topic": self.topic, "partition": self.partition, "offset": self.offset}


@dataclass(slots=True)
class DeadLetter:
    """A message that could not be understood, with the reason and its original bytes."""

    reason: str
    detail: str
    source: Source
    key: bytes | None
    value: bytes | None
    received_at: float

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "reason": self.reason,
                "detail": self.detail,
                "source": self.source.as_dict(),
                "key_b64": base64.b64encode(self.key).decode() if self.key is not None else None,
                "value_b64": (
                    base64.b64encode(self.value).decode() if self.value is not None else None
                ),
                "received_at": self.received_at,
            }
        )

    @classmethod
    def decode(cls, raw: bytes | None) -> DeadLetter:
        what = "dead letter"
        d = json_object(raw, what)
        src = d.get("source")
        if not isinstance(src, dict):
            raise ValueError(f"{what}: source must be an object")
        try:
            key = base64.b64decode(d["key_b64"]) if d.get("key_b64") is not None else None
            value = base64.b64decode(d["value_b64"]) if d.get("value_b64") is not None else None
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{what}: bad base64 ({exc})") from None
        return cls(
            _text(d, "reason", what),
            str(d.get("detail", "")),
            Source(
                _text(src, "topic", what), _int(src, "partition", what), _int(src, "offset", what)
            ),
            key,
            value,
            _number(d, "received_at", what, 0.0),
        )


_DECISION_KEYS = (
    "decision_id",
    "actor",
    "action",
    "reasons",
    "score",
    "model",
    "ttl_s",
    "expires_at",
    "ts",
    "shadow",
    "trigger_event_id",
    "origin",
    "by",
    "tenant",
    "scope",
    "value",
)

ORIGINS = ("rules", "model", "group", "manual")


@dataclass(slots=True)
class Decision:
    """An allow/challenge/block decision for one actor (docs/architecture.md, "Decision")."""

    decision_id: str
    actor: str
    action: str
    reasons: list[str]
    score: float | None
    model: str
    ttl_s: float
    expires_at: float
    ts: float
    shadow: bool = False
    trigger_event_id: str = ""
    origin: str = "rules"  # rules | model | group | manual
    by: str = ""  # who made a manual decision
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "decision_id": self.decision_id,
            "actor": self.actor,
            "action": self.action,
            "reasons": self.reasons,
            "score": self.score,
            "model": self.model,
            "ttl_s": self.ttl_s,
            "expires_at": self.expires_at,
            "ts": self.ts,
            "shadow": self.shadow,
            "trigger_event_id": self.trigger_event_id,
            "origin": self.origin,
        }
        if self.by:
            out["by"] = self.by
        try:  # what an enforcement cache keys on: scope and value (an IP for ip decisions)
            ref = parse_actor(self.actor)
        except ValueError:
            pass
        else:
            if ref.tenant is not None:
                out["tenant"] = ref.tenant
            out["scope"], out["value"] = ref.scope, ref.value
        out.update(self.extra)
        return out

    def encode(self) -> bytes:
        return orjson.dumps(self.as_dict())

    @classmethod
    def decode(cls, raw: bytes | None) -> Decision:
        return cls.from_dict(json_object(raw, "decision"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Decision:
        """The decision contract (``docs/schemas/decision.schema.json``), checked strictly:
        what the schema refuses, this refuses (``tests/core/test_schemas.py``)."""
        what = "decision"
        action = _text(data, "action", what)
        if action not in ("allow", "challenge", "block"):
            raise ValueError(f"{what}: action {action!r} is not allow, challenge or block")
        reasons = data.get("reasons")
        if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
            raise ValueError(f"{what}: reasons must be a list of strings")
        score = data.get("score")
        if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)):
            raise ValueError(f"{what}: score must be a number or null")
        shadow = data.get("shadow")
        if not isinstance(shadow, bool):
            raise ValueError(f"{what}: shadow must be true or false")
        ttl_s = _number(data, "ttl_s", what)
        if ttl_s < 0:
            raise ValueError(f"{what}: ttl_s must not be negative")
        decision_id, actor = _text(data, "decision_id", what), _text(data, "actor", what)
        if not decision_id or not actor:
            raise ValueError(f"{what}: decision_id and actor must not be empty")
        origin = data.get("origin", "rules")
        if origin not in ORIGINS:
            raise ValueError(f"{what}: origin must be one of {', '.join(ORIGINS)}")
        return cls(
            decision_id=decision_id,
            actor=actor,
            action=action,
            reasons=list(reasons),
            score=None if score is None else float(score),
            model=_text(data, "model", what) if "model" in data else "",
            ttl_s=ttl_s,
            expires_at=_number(data, "expires_at", what),
            ts=_number(data, "ts", what),
            shadow=shadow,
            trigger_event_id=(
                _text(data, "trigger_event_id", what) if "trigger_event_id" in data else ""
            ),
            origin=origin,
            by=_text(data, "by", what) if "by" in data else "",
            extra={k: v for k, v in data.items() if k not in _DECISION_KEYS},
        )


@dataclass(slots=True)
class Score:
    """A model score the detector computed for an actor (``<app>-scores``)."""

    actor: str
    score: float
    ts: float  # event time
    model: str
    slot: str  # live | shadow

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "actor": self.actor,
                "score": round(self.score, 5),
                "ts": self.ts,
                "model": self.model,
                "slot": self.slot,
            }
        )

    @classmethod
    def decode(cls, raw: bytes | None) -> Score:
        what = "score"
        d = json_object(raw, what)
        slot = d.get("slot", "live")
        if slot not in ("live", "shadow"):
            raise ValueError(f"{what}: slot must be live or shadow")
        return cls(
            _text(d, "actor", what),
            _number(d, "score", what),
            _number(d, "ts", what),
            str(d.get("model", "")),
            slot,
        )


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
            _text(d, "a", what), _text(d, "i", what), _number(d, "t", what), _int(d, "v", what)
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
            _text(d, "actor", what),
            _text(d, "group", what),
            _text(d, "metric", what),
            _int(d, "value", what),
            _int(d, "threshold", what),
            _number(d, "ts", what),
            _number(d, "expires_at", what),
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
            {k: getattr(self, k) for k in self.__slots__ if getattr(self, k) not in (None, "")}
        )

    @classmethod
    def decode(cls, raw: bytes | None) -> FeedItem:
        what = "feed item"
        d = json_object(raw, what)
        kind = d.get("kind")
        if kind not in ("decision", "access"):
            raise ValueError(f"{what}: kind must be decision or access")
        item = cls(kind, _text(d, "key", what), _text(d, "actor", what), _number(d, "ts", what))
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
            _text(d, "incident_id", what),
            _text(d, "profile", what),
            sealed if isinstance(sealed, str) else None,
            list(flds),
            _number(d, "ts", what),
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
    _text(d, "incident_id", what)
    if d.get("status") not in ("open", "closed"):
        raise ValueError(f"{what}: status must be open or closed")
    _int(d, "version", what)
    _number(d, "opened_at", what)
    _number(d, "last_activity_at", what)
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
            _text(d, "worker", what),
            _text(d, "url", what),
            _number(d, "ts", what),
            parts,
            sig if isinstance(sig, str) else "",
        )


@dataclass(slots=True)
class ManualDecision:
    """An operator's decision (``scrapeguard decisions add|delete``), keyed by actor.

    ``op`` ``add`` puts ``action`` in force for ``ttl_s``; ``delete`` lifts what is in
    force (an appeal upheld) and, with ``ttl_s`` > 0, keeps the rules from acting again
    for that long. The detector that owns the actor applies it and publishes the decision.
    """

    manual_id: str
    actor: str
    op: str  # add | delete
    action: str  # block | challenge | allow (allow for a delete)
    ttl_s: float
    reason: str
    by: str
    ts: float  # wall-clock time it was made

    def encode(self) -> bytes:
        return orjson.dumps({k: getattr(self, k) for k in self.__slots__})

    @classmethod
    def decode(cls, raw: bytes | None) -> ManualDecision:
        what = "manual decision"
        d = json_object(raw, what)
        op = d.get("op")
        if op not in ("add", "delete"):
            raise ValueError(f"{what}: op must be add or delete")
        action = d.get("action")
        if action not in ("allow", "challenge", "block") or (op == "delete" and action != "allow"):
            raise ValueError(f"{what}: action must be allow, challenge or block (allow to delete)")
        actor = _text(d, "actor", what)
        parse_actor(actor)  # raises ValueError for a malformed actor
        ttl = _number(d, "ttl_s", what)
        if not 0 <= ttl <= 10 * 365 * 86400:
            raise ValueError(f"{what}: ttl_s must be between 0 and ten years")
        if op == "add" and ttl <= 0:
            raise ValueError(f"{what}: a decision needs a ttl_s above 0")
        return cls(
            _text(d, "manual_id", what),
            actor,
            op,
            action,
            ttl,
            _text(d, "reason", what)[:500],
            str(d.get("by", ""))[:100],
            _number(d, "ts", what),
        )


@dataclass(slots=True)
class BouncerKey:
    """A bouncer's API key, hashed (``<app>-bouncers``, compacted, key = name)."""

    name: str
    key_sha256: str  # hex SHA-256 of the key; the key itself is shown once and never stored
    created_at: float
    created_by: str = ""

    def encode(self) -> bytes:
        return orjson.dumps({k: getattr(self, k) for k in self.__slots__})

    @classmethod
    def decode(cls, raw: bytes | None) -> BouncerKey:
        what = "bouncer key"
        d = json_object(raw, what)
        digest = _text(d, "key_sha256", what)
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"{what}: key_sha256 must be 64 lowercase hex digits")
        return cls(
            _text(d, "name", what),
            digest,
            _number(d, "created_at", what),
            str(d.get("created_by", "")),
        )
