"""What became of an actor after a decision: the labels the models learn from.

An :class:`ActorOutcome` is published on ``<app>-outcomes``, keyed by the actor (so it
reaches the partition that holds the actor, like its requests), by enforcement (the
challenge page reports ``challenge_solved``, ``challenge_failed`` or
``challenge_abandoned``), by analysts (``verdict_bot``, ``verdict_human``) and by appeals
(``appeal_upheld``: the actor was a person; ``appeal_rejected``: it was not), with
``scrapeguard label`` or any producer (contract: ``docs/contracts.md``).

**Labels teach; decisions enforce.** An outcome never puts a decision in force or lifts
one (that is ``scrapeguard decisions add|delete``). It does two things, in the detector
that owns the actor:

* the actor's verdict is kept in its state: while it says bot, the novelty models do
  not learn the actor as normal traffic; only ``verdict_human`` and ``appeal_upheld``
  clear it (a solved challenge does not: CAPTCHA-solving services exist);
* when the verdict changes and the actor has the evidence to be scored, the models that
  learn from labels (``supervised``, the ensemble's supervised part) learn the actor's
  current feature vector with the label — once per change, so a repeated label teaches
  nothing more (:func:`stream.core.side_inputs.apply_outcomes`).

An abandoned challenge teaches nothing (a person who leaves and a bot that gives up look
the same); it is counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from stream.core.actor_ref import parse_actor
from stream.core.records import json_object

# kind -> the label it carries: True = bot, False = person, None = no label
KINDS: dict[str, bool | None] = {
    "challenge_solved": False,
    "challenge_failed": True,
    "challenge_abandoned": None,
    "verdict_bot": True,
    "verdict_human": False,
    "appeal_upheld": False,
    "appeal_rejected": True,
}
MAX_REASON_CHARS = 500
MAX_BY_CHARS = 100
MAX_ID_CHARS = 200


def label_of(kind: str) -> bool | None:
    """The label an outcome of ``kind`` carries (True: bot), None for none."""
    return KINDS[kind]


def _str(d: dict[str, Any], key: str, what: str, limit: int, required: bool = True) -> str:
    value = d.get(key, None if required else "")
    if not isinstance(value, str) or (required and not value):
        raise ValueError(f"{what}: {key} must be a non-empty string")
    if len(value) > limit:
        raise ValueError(f"{what}: {key} longer than {limit} characters")
    if any(ord(c) < 32 for c in value):
        raise ValueError(f"{what}: {key} contains control characters")
    return value


@dataclass(frozen=True, slots=True)
class ActorOutcome:
    """One outcome about one actor (``<app>-outcomes``, key = actor)."""

    outcome_id: str  # unique per outcome, for the audit trail
    actor: str  # [tenant/]account:ID | session:ID | ip:ADDRESS
    kind: str  # one of KINDS
    reason: str  # free text for the audit trail (no personal data, please)
    by: str  # who or what reported it (a service, an analyst)
    ts: float  # wall-clock time it was made, seconds since the epoch
    decision_id: str = ""  # the decision it answers, when there is one

    @property
    def is_bot(self) -> bool | None:
        return label_of(self.kind)

    def encode(self) -> bytes:
        doc: dict[str, Any] = {"v": 1, **{k: getattr(self, k) for k in self.__slots__}}
        return orjson.dumps(doc)

    @classmethod
    def decode(cls, raw: bytes | None) -> ActorOutcome:
        """The outcome in ``raw``, or ValueError saying what is wrong (total)."""
        what = "outcome"
        d = json_object(raw, what)
        version = d.get("v", 1)
        if isinstance(version, bool) or version != 1:
            raise ValueError(f"{what}: unknown version {version!r}")
        kind = d.get("kind")
        if not isinstance(kind, str) or kind not in KINDS:
            raise ValueError(f"{what}: kind must be one of {', '.join(KINDS)}")
        actor = _str(d, "actor", what, 1100)
        ref = parse_actor(actor)  # ValueError for a malformed actor
        if ref.scope == "range":
            raise ValueError(f"{what}: an outcome names one actor, not a range")
        ts = d.get("ts")
        if isinstance(ts, bool) or not isinstance(ts, int | float) or not 0 < ts < 1e11:
            raise ValueError(f"{what}: ts must be seconds since the epoch")
        return cls(
            _str(d, "outcome_id", what, MAX_ID_CHARS),
            ref.key,
            kind,
            _str(d, "reason", what, MAX_REASON_CHARS, required=False),
            _str(d, "by", what, MAX_BY_CHARS, required=False),
            float(ts),
            _str(d, "decision_id", what, MAX_ID_CHARS, required=False),
        )
