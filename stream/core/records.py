"""Wire records: the request event coming in, the decision and dead letter going out.

Plain slotted dataclasses, decoded and encoded with orjson: the hot path never
builds a Faust ``Record`` per event.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import orjson

ACTIONS = ("allow", "challenge", "block")
SEVERITY = {"allow": 0, "challenge": 1, "block": 2}


@dataclass(slots=True)
class RequestEvent:
    """One request that returned personal data (see DESIGN.md, "Request event")."""

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


@dataclass(slots=True)
class Decision:
    """An allow/challenge/block decision for one actor (see DESIGN.md, "Decision")."""

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
        }
        out.update(self.extra)
        return out

    def encode(self) -> bytes:
        return orjson.dumps(self.as_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Decision:
        known = {
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
        }
        return cls(
            decision_id=data["decision_id"],
            actor=data["actor"],
            action=data["action"],
            reasons=list(data.get("reasons") or []),
            score=data.get("score"),
            model=data.get("model", ""),
            ttl_s=float(data.get("ttl_s", 0.0)),
            expires_at=float(data.get("expires_at", 0.0)),
            ts=float(data.get("ts", 0.0)),
            shadow=bool(data.get("shadow", False)),
            trigger_event_id=data.get("trigger_event_id", ""),
            extra={k: v for k, v in data.items() if k not in known},
        )
