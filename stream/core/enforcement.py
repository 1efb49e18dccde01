"""Graduated response: the enforcement state of an actor, and turning what the policy asks
for into decisions worth publishing.

A decision is published only when the action in force changes (allow → challenge →
block, or back to allow once a decision expired), or when a decision still in force
is about to expire and the actor is still over the limit (renewal). Never once per
event. ``decision_id`` is a hash of actor, action, triggering event and shadow flag,
so a re-delivered event re-creates the same id.

Every decision says where it comes from (``origin``): the policy's limits (``rules``),
the model's score (``model``), a correlation group (``group``) or an operator
(``manual``, :func:`apply_manual`). A manual decision is in force for its TTL like any
other; a manual ``allow`` (or a ``delete`` with a TTL) also keeps the rules from acting
on the actor until ``allow_until``.
"""

from __future__ import annotations

from enum import IntEnum
from hashlib import blake2b
from typing import TYPE_CHECKING

from stream.core.actions import Action
from stream.core.internal_records import GROUP_METRICS
from stream.core.operator_records import ManualDecision
from stream.core.records import Decision

if TYPE_CHECKING:
    from stream.core.actor_state import ActorState
    from stream.core.policy import Policy, Verdict


class Origin(IntEnum):
    """Where a decision comes from (the ``origin`` of a decision record)."""

    RULES = 0
    MODEL = 1
    GROUP = 2
    MANUAL = 3

    @property
    def label(self) -> str:
        return self.name.lower()


_GROUP_METRICS = GROUP_METRICS


def origin_of(reasons: tuple[str, ...] | list[str]) -> Origin:
    """A limit of the policy decides over a group signal, and that over the model score."""
    heads = [r.split(" ", 1)[0] for r in reasons if r != "renewal"]
    if any(h not in _GROUP_METRICS and h != "anomaly_score" for h in heads):
        return Origin.RULES
    if any(h in _GROUP_METRICS for h in heads):
        return Origin.GROUP
    if heads:
        return Origin.MODEL
    return Origin.RULES


class Enforcement:
    """The action last decided for an actor, until when, and the views made by then."""

    __slots__ = (
        "action",
        "allow_until",
        "expires",
        "incident",
        "origin",
        "since",
        "views_at_action",
    )

    def __init__(self) -> None:
        self.action = Action.ALLOW
        self.expires = 0.0  # event time the action stops being in force
        self.since = 0.0  # event time it was decided
        self.views_at_action = 0  # profile views counted when it was decided
        self.origin = Origin.RULES
        self.allow_until = 0.0  # a manual allow keeps the rules from acting until then
        self.incident = ""  # incident key of the last challenge or block

    def holds_until(self) -> float:
        """Until when a decision about this actor matters (0: none is in force)."""
        return max(self.expires if self.action != Action.ALLOW else 0.0, self.allow_until)

    def active(self, ts: float) -> Action:
        """The action in force at event time ``ts`` (an expired decision is no longer)."""
        return self.action if ts < self.expires else Action.ALLOW


def active_action(state: ActorState, ts: float) -> Action:
    """The action in force for ``state`` at event time ``ts``."""
    return state.enforcement.active(ts)


def decision_id(actor: str, action: str, trigger_event_id: str, shadow: bool) -> str:
    raw = f"{actor}\x00{action}\x00{trigger_event_id}\x00{int(shadow)}".encode()
    return blake2b(raw, digest_size=16).hexdigest()


def step(
    state: ActorState,
    verdict: Verdict,
    *,
    actor: str,
    ts: float,
    trigger_event_id: str,
    policy: Policy,
    model_label: str,
) -> Decision | None:
    """Apply ``verdict`` to the actor's enforcement state; return a decision to publish."""
    enf = state.enforcement
    if ts < enf.allow_until:
        return None  # an operator allowed this actor: the rules may not act until then
    active = enf.active(ts)
    desired = verdict.action
    reasons: list[str]
    if desired > active:
        new = desired
        reasons = list(verdict.reasons)
        origin = origin_of(reasons)
    elif desired == active and active != Action.ALLOW and enf.expires - ts <= policy.renew_before_s:
        new = active
        reasons = ["renewal", *verdict.reasons]
        origin = origin_of(reasons)
    elif active == Action.ALLOW and enf.action != Action.ALLOW:
        new = Action.ALLOW
        reasons = [f"{enf.action.label}_expired"]
        origin = enf.origin  # the end of that decision
    else:
        return None

    if new == Action.CHALLENGE and active != Action.CHALLENGE:
        enf.views_at_action = state.counters.views
    enf.action = new
    enf.since = ts
    enf.origin = origin
    ttl = policy.ttl_s(new) if new != Action.ALLOW else 0.0
    enf.expires = ts + ttl if new != Action.ALLOW else 0.0
    return Decision(
        decision_id=decision_id(actor, new.label, trigger_event_id, policy.shadow),
        actor=actor,
        action=new.label,
        reasons=reasons,
        score=round(state.score, 4),
        model=model_label,
        ttl_s=ttl,
        expires_at=enf.expires,
        ts=ts,
        shadow=policy.shadow,
        trigger_event_id=trigger_event_id,
        origin=origin.label,
    )


def apply_manual(state: ActorState, m: ManualDecision, model_label: str) -> Decision:
    """An operator's decision, put in force on ``state``; the decision to publish.

    ``add`` with block or challenge: in force for ``ttl_s`` whatever the rules say (they
    may still escalate a manual challenge to a block, as they would their own). ``add``
    with allow, or ``delete``: what is in force is lifted, and the rules may not act on
    the actor for ``ttl_s`` (0 for a plain delete).
    """
    enf = state.enforcement
    action = Action.parse(m.action)
    ts = m.ts
    if action == Action.ALLOW:
        enf.action, enf.expires = Action.ALLOW, 0.0
        enf.allow_until = ts + m.ttl_s if m.ttl_s > 0 else 0.0
        reason = f"manual_{'delete' if m.op == 'delete' else 'allow'}: {m.reason}"
        ttl, expires_at = m.ttl_s, enf.allow_until
    else:
        if action == Action.CHALLENGE:
            enf.views_at_action = state.counters.views
        enf.action, enf.expires, enf.allow_until = action, ts + m.ttl_s, 0.0
        reason = f"manual: {m.reason}"
        ttl, expires_at = m.ttl_s, enf.expires
    enf.since = ts
    enf.origin = Origin.MANUAL
    return Decision(
        decision_id=decision_id(m.actor, action.label, f"manual:{m.manual_id}", False),
        actor=m.actor,
        action=action.label,
        reasons=[reason],
        score=round(state.score, 4),
        model=model_label,
        ttl_s=ttl,
        expires_at=expires_at,
        ts=ts,
        shadow=False,
        trigger_event_id=f"manual:{m.manual_id}",
        origin="manual",
        by=m.by,
    )
