"""Graduated response: the enforcement state of an actor, and turning what the policy asks
for into decisions worth publishing.

A decision is published only when the action in force changes (allow → challenge →
block, or back to allow once a decision expired), or when a decision still in force
is about to expire and the actor is still over the limit (renewal). Never once per
event. ``decision_id`` is a hash of actor, action, triggering event and shadow flag,
so a re-delivered event re-creates the same id.
"""

from __future__ import annotations

from hashlib import blake2b
from typing import TYPE_CHECKING

from stream.core.actions import Action
from stream.core.records import Decision

if TYPE_CHECKING:
    from stream.core.actor_state import ActorState
    from stream.core.policy import Policy, Verdict


class Enforcement:
    """The action last decided for an actor, until when, and the views made by then."""

    __slots__ = ("action", "expires", "since", "views_at_action")

    def __init__(self) -> None:
        self.action = Action.ALLOW
        self.expires = 0.0  # event time the action stops being in force
        self.since = 0.0  # event time it was decided
        self.views_at_action = 0  # profile views counted when it was decided

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
    active = enf.active(ts)
    desired = verdict.action
    reasons: list[str]
    if desired > active:
        new = desired
        reasons = list(verdict.reasons)
    elif desired == active and active != Action.ALLOW and enf.expires - ts <= policy.renew_before_s:
        new = active
        reasons = ["renewal", *verdict.reasons]
    elif active == Action.ALLOW and enf.action != Action.ALLOW:
        new = Action.ALLOW
        reasons = [f"{enf.action.label}_expired"]
    else:
        return None

    if new == Action.CHALLENGE and active != Action.CHALLENGE:
        enf.views_at_action = state.counters.views
    enf.action = new
    enf.since = ts
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
    )
