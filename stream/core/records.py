"""Wire records: every kind of message scrapeguard reads or writes on Kafka, and its codec.

Plain slotted dataclasses, encoded and decoded with orjson, each in exactly one place
(here). Decoders are total: whatever the bytes, they return a record or raise
:class:`ValueError` — never another exception — so the caller has one thing to catch.

* :class:`RequestEvent` comes in on ``requests``; it is decoded by
  :func:`stream.core.validation.validate` (the contract has reasons for each refusal).
* :class:`Decision` (``decisions``), :class:`DeadLetter` (``deadletter``) and
  :class:`Score` (``<app>-scores``) go out.
* the records between scrapeguard's own agents (activities, group signals, incident feed
  items, ledger entries, the incident summary, members): :mod:`stream.core.internal_records`;
* what operators and enforcement write (manual decisions, bouncer keys):
  :mod:`stream.core.operator_records`; labels (outcomes): :mod:`stream.core.outcomes`;
* control messages are signed: their codec is :mod:`stream.core.control`.

The field readers below (:func:`json_object`, :func:`text_of`, :func:`number_of`,
:func:`int_of`) are shared by every decoder.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import orjson

from stream.core.actor_ref import parse_actor


def json_value(raw: bytes | None, what: str) -> Any:
    """``raw`` as JSON, or ValueError naming ``what`` it should have been."""
    if raw is None:
        raise ValueError(f"{what}: no value")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"{what}: not JSON ({exc})") from None


def json_object(raw: bytes | None, what: str) -> dict[str, Any]:
    """``raw`` as a JSON object, or ValueError naming ``what`` it should have been."""
    doc = json_value(raw, what)
    if not isinstance(doc, dict):
        raise ValueError(f"{what}: not a JSON object")
    return doc


def text_of(doc: dict[str, Any], key: str, what: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str):
        raise ValueError(f"{what}: {key} must be a string")
    return value


# the event times a record read from Kafka may carry: 1970 to 2242 (2**33 s). A number
# beyond decodes, but breaks what it feeds: a per-minute head past 64 bits fails to encode
# again (a worker stopped on every restore), a watermark of 1e300 expires everything
MAX_TS = float(2**33)
# the longest any decision, allow or group signal may be in force (a policy's TTLs, an
# operator's decision): ten years. A time it ends at is under MAX_TS + MAX_TTL_S
MAX_TTL_S = 10 * 365 * 86400.0


def in_time_range(ts: float, what: str) -> float:
    """``ts`` when it is a time of :data:`MAX_TS`'s range (NaN is not); else ValueError."""
    if not 0.0 <= ts < MAX_TS:
        raise ValueError(f"{what}: time out of range: {ts!r}")
    return ts


def in_expiry_range(ts: float, what: str) -> float:
    """``ts`` when it is a time something in force may end at (0: none): a time of the range
    plus at most :data:`MAX_TTL_S`; else ValueError (NaN too)."""
    if not 0.0 <= ts < MAX_TS + MAX_TTL_S:
        raise ValueError(f"{what}: expiry out of range: {ts!r}")
    return ts


def time_of(doc: dict[str, Any], key: str, what: str) -> float:
    return in_time_range(number_of(doc, key, what), f"{what}: {key}")


def number_of(doc: dict[str, Any], key: str, what: str, default: float | None = None) -> float:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what}: {key} must be a number")
    return float(value)


def int_of(doc: dict[str, Any], key: str, what: str) -> int:
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
    # the Sec-Fetch-Dest header, lower case: what a browser fetched the request for
    # ("document": a navigation; "empty": a script's fetch). None: the producer does not
    # send it; "": the request had none (a client that is no browser, or an old one)
    fetch_dest: str | None = None


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
            text_of(d, "reason", what),
            str(d.get("detail", "")),
            Source(
                text_of(src, "topic", what),
                int_of(src, "partition", what),
                int_of(src, "offset", what),
            ),
            key,
            value,
            number_of(d, "received_at", what, 0.0),
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
        action = text_of(data, "action", what)
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
        ttl_s = number_of(data, "ttl_s", what)
        if ttl_s < 0:
            raise ValueError(f"{what}: ttl_s must not be negative")
        decision_id, actor = text_of(data, "decision_id", what), text_of(data, "actor", what)
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
            model=text_of(data, "model", what) if "model" in data else "",
            ttl_s=ttl_s,
            expires_at=number_of(data, "expires_at", what),
            ts=number_of(data, "ts", what),
            shadow=shadow,
            trigger_event_id=(
                text_of(data, "trigger_event_id", what) if "trigger_event_id" in data else ""
            ),
            origin=origin,
            by=text_of(data, "by", what) if "by" in data else "",
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
            text_of(d, "actor", what),
            number_of(d, "score", what),
            number_of(d, "ts", what),
            str(d.get("model", "")),
            slot,
        )
