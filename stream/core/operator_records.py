"""What operators write, and its codec (total decoders, like every decoder of
:mod:`stream.core.records`):

* :class:`ManualDecision` (``<app>-manual-decisions``: ``scrapeguard decisions`` →
  the detector that owns the actor), signed with a key derived from the control key
  (:func:`manual_key`): a writer of the topic without it cannot allow its own actor,
* :class:`BouncerKey` (``<app>-bouncers``: ``scrapeguard bouncers`` → every worker).
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from stream.core.actor_ref import parse_actor
from stream.core.records import MAX_TTL_S, json_object, number_of, text_of
from stream.core.signing import sign, signed_with
from stream.core.subkeys import derive


def manual_key(control_key: bytes) -> bytes:
    """The key that signs manual decisions: derived from the control key, which operators
    hold for ``scrapeguard models`` already."""
    return derive(control_key, "manual-decisions")


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

    def encode(self, key: bytes) -> bytes:
        """The record, signed with ``key`` (:func:`manual_key`)."""
        return sign({k: getattr(self, k) for k in self.__slots__}, key)

    def check_appended(self, appended_at: float | None, window_s: float, ahead_s: float) -> None:
        """ValueError unless the record entered its topic (``appended_at``, the broker's
        time with ``LogAppendTime``) within ``window_s`` after it was made, or at most
        ``ahead_s`` before (an operator's clock ahead): a signed record appended again
        later — an old allow, to lift the block that replaced it — is refused, as control
        messages are (:mod:`stream.core.manual_replays`)."""
        if appended_at is None:
            raise ValueError("manual decision: the record has no timestamp")
        if not appended_at - window_s <= self.ts <= appended_at + ahead_s:
            raise ValueError(
                f"manual decision {self.manual_id}: made at {self.ts:.0f} but appended at "
                f"{appended_at:.0f} (at most {window_s:g}s after or {ahead_s:g}s before): a "
                "record appended again, or a clock that is off"
            )

    @classmethod
    def decode(cls, raw: bytes | None, key: bytes) -> ManualDecision:
        """The record, if signed with ``key`` (:func:`manual_key`); ValueError if not."""
        what = "manual decision"
        d = json_object(raw, what)
        if not signed_with(d, key):
            raise ValueError(
                f"{what}: not signed with this deployment's control key (write it with "
                "scrapeguard decisions, SCRAPEGUARD_CONTROL_KEY set)"
            )
        op = d.get("op")
        if op not in ("add", "delete"):
            raise ValueError(f"{what}: op must be add or delete")
        action = d.get("action")
        if action not in ("allow", "challenge", "block") or (op == "delete" and action != "allow"):
            raise ValueError(f"{what}: action must be allow, challenge or block (allow to delete)")
        actor = text_of(d, "actor", what)
        actor = parse_actor(actor).key  # normalised as decisions name it; ValueError if bad
        ttl = number_of(d, "ttl_s", what)
        if not 0 <= ttl <= MAX_TTL_S:
            raise ValueError(f"{what}: ttl_s must be between 0 and ten years")
        if op == "add" and ttl <= 0:
            raise ValueError(f"{what}: a decision needs a ttl_s above 0")
        return cls(
            text_of(d, "manual_id", what),
            actor,
            op,
            action,
            ttl,
            text_of(d, "reason", what)[:500],
            str(d.get("by", ""))[:100],
            number_of(d, "ts", what),
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
        digest = text_of(d, "key_sha256", what)
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"{what}: key_sha256 must be 64 lowercase hex digits")
        return cls(
            text_of(d, "name", what),
            digest,
            number_of(d, "created_at", what),
            str(d.get("created_by", "")),
        )
