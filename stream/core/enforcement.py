"""Graduated response: turn what the policy asks for into decisions worth publishing.

A decision is published only when the action in force changes (allow → challenge →
block, or back to allow once a decision expired), or when a decision still in force
is about to expire and the actor is still over the limit (renewal). Never once per
event. ``decision_id`` is a hash of actor, action, triggering event and shadow flag,
so a re-delivered event re-creates the same id.
"""

from __future__ import annotations

from hashlib import blake2b

from stream.core.actor_state import ACTION_NAMES, ActorState
from stream.core.policy import ALLOW, CHALLENGE, Policy, Verdict
from stream.core.records import Decision


def active_action(state: ActorState, ts: float) -> int:
    """The action in force at event time ``ts`` (an expired decision is no longer in force)."""
    return state.action if ts < state.action_expires else ALLOW


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
    active = active_action(state, ts)
    desired = verdict.action
    reasons: list[str]
    if desired > active:
        new = desired
        reasons = list(verdict.reasons)
    elif (
        desired == active and active != ALLOW and state.action_expires - ts <= policy.renew_before_s
    ):
        new = active
        reasons = ["renewal", *verdict.reasons]
    elif active == ALLOW and state.action != ALLOW:
        new = ALLOW
        reasons = [f"{ACTION_NAMES[state.action]}_expired"]
    else:
        return None

    if new == CHALLENGE and active != CHALLENGE:
        state.views_at_action = state.views
    state.action = new
    state.action_ts = ts
    ttl = policy.ttl_s(new) if new != ALLOW else 0.0
    state.action_expires = ts + ttl if new != ALLOW else 0.0
    name = ACTION_NAMES[new]
    return Decision(
        decision_id=decision_id(actor, name, trigger_event_id, policy.shadow),
        actor=actor,
        action=name,
        reasons=reasons,
        score=round(state.score, 4),
        model=model_label,
        ttl_s=ttl,
        expires_at=state.action_expires,
        ts=ts,
        shadow=policy.shadow,
        trigger_event_id=trigger_event_id,
    )
