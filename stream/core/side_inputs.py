"""What reaches a partition besides requests: the correlator's group signals, operators'
manual decisions, and labels (outcomes). Each is applied by the detector that owns the
actor (the topics are keyed by actor and co-partitioned with ``requests``), between two
batches of requests, so a batch's requests are judged with them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from ipaddress import IPv4Network, IPv6Network
from typing import TypeVar

import structlog

from stream.core.actions import Action
from stream.core.actor_ref import ActorRef, parse_actor
from stream.core.actor_state import VERDICT_BOT, VERDICT_HUMAN, ActorState
from stream.core.batch import BatchResult
from stream.core.correlation import SESSIONS
from stream.core.counters import DAY_S
from stream.core.enforcement import apply_manual as manual_decision
from stream.core.incidents import incident_key
from stream.core.internal_records import NEW_SESSIONS_METRIC, SUBNET_METRIC, FeedItem, GroupSignal
from stream.core.operator_records import ManualDecision
from stream.core.outcomes import ActorOutcome
from stream.core.partition_detector import PartitionDetector
from stream.core.policy import Verdict
from stream.core.validation import MIN_TS

log = structlog.get_logger(__name__)
T = TypeVar("T")


def _each(
    det: PartitionDetector,
    items: Iterable[T],
    apply: Callable[[PartitionDetector, BatchResult, T], None],
    what: str,
) -> BatchResult:
    """``apply`` to each item, one at a time: an item that raises is skipped, counted
    (``skipped_<what>``) and logged — one bad record never stops the partition."""
    out = BatchResult()
    det.record_ts = None
    for item in items:
        try:
            apply(det, out, item)
        except Exception as exc:
            out.stats[f"skipped_{what}"] += 1
            log.warning(f"{what}_skipped", error=f"{type(exc).__name__}: {exc}")
    det.actors.trim()
    det.collect_evicted(out)
    return out


def _state_of(det: PartitionDetector, actor: str, ts: float) -> ActorState:
    """The actor's state; a new one when a side input reaches it before (or without) any
    event of its own, aged from ``ts`` so that idle expiry measures from it."""
    state = det.actors.get(actor)
    if state is None:
        state = ActorState()
        det.actors.put(actor, state)
        state.counters.last_ts = ts
    return state


def _from_the_future(det: PartitionDetector, ts: float) -> bool:
    """``ts`` is later than the partition's clock allows (``max_future_skew_s``)."""
    return ts > det.clock() + det.limits.max_future_skew_s


def apply_group_signals(det: PartitionDetector, signals: Iterable[GroupSignal]) -> BatchResult:
    """Group signals from the correlator: remember them, and decide at once."""
    return _each(det, signals, _signal, "group_signal")


def _signal(det: PartitionDetector, out: BatchResult, sig: GroupSignal) -> None:
    if _from_the_future(det, sig.ts):
        raise ValueError("group signal from the future")  # it could pin a flag for good
    if sig.metric == NEW_SESSIONS_METRIC:
        _new_sessions(det, out, sig)
        return
    state = _state_of(det, sig.actor, sig.ts)
    # reasons, triggers and incident keys name the group by pseudonym or range
    label = det.pseudo.group(sig.group)
    reason = sig.reason_naming(label.partition(":")[2])
    # never in force longer than a day, or the policy's signal_ttl_s when longer: a forged
    # record could else pin a flag for years (not the TTL itself: a reload that shortens
    # it would cut the signals the correlator re-sends only half a TTL before they end)
    expires = min(sig.expires_at, sig.ts + max(det.policy.groups.signal_ttl_s, DAY_S))
    # a slot lapsed a day before the actor's newest event can never be in force again
    # (older events are too late): cleared, so that the state keeps one slot where it can
    state.drop_lapsed(state.counters.last_ts - DAY_S)
    state.hold_group(sig.metric == SUBNET_METRIC, reason, sig.ts, expires, sig.high_share)
    out.changed[sig.actor] = state
    out.stats["group_signals"] += 1
    if not state.allowlisted:
        trigger = f"group:{label}:{sig.ts}"
        # filed under the group in force (the one the decision names): decide's incident key
        det.decide(out, state, sig.actor, sig.ts, trigger)


def _new_sessions(det: PartitionDetector, out: BatchResult, sig: GroupSignal) -> None:
    """An address (an IPv6 /64) whose new sessions viewed too many profiles in the hour:
    the address itself is challenged or blocked, as the policy's own thresholds say (the
    correlator's are those of its policy when it sent the signal)."""
    ref = parse_actor(sig.actor)
    network = _one_address(ref)
    if sig.group != SESSIONS + sig.actor:
        raise ValueError(f"{NEW_SESSIONS_METRIC} signal of another group than its address's")
    limit = det.policy.groups.new_session_views_per_ip
    value = sig.value
    if limit is not None and limit.block is not None and value > limit.block:
        action, threshold = Action.BLOCK, limit.block
    elif limit is not None and limit.challenge is not None and value > limit.challenge:
        action, threshold = Action.CHALLENGE, limit.challenge
    else:
        out.stats["group_signal_under_policy"] += 1  # off, or raised since it was sent
        return
    allow = det.policy.allowlist
    if sig.actor in allow.actors or any(network.overlaps(r) for r in allow.ip_ranges):
        out.stats["group_signal_allowlisted"] += 1  # an office's, a partner's address
        return
    state = _state_of(det, sig.actor, sig.ts)
    out.changed[sig.actor] = state
    out.stats["group_signals"] += 1
    ip = ref.value if ref.scope == "ip" else None
    # the address by pseudonym, an IPv6 /64 as pseudonymised ranges are
    where = det.pseudo.where(f"ip:{ip}" if ip is not None else f"subnet:{ref.value}")
    reason = f"{NEW_SESSIONS_METRIC} {value} > {threshold:g} ({where})"
    trigger = f"group:{det.pseudo.group(sig.group)}:{sig.ts}"
    det.decide(out, state, sig.actor, sig.ts, trigger, ip=ip, verdict=Verdict(action, (reason,)))


def _one_address(ref: ActorRef) -> IPv4Network | IPv6Network:
    """The network an address signal may name: one IPv4 address, or one IPv6 /64 — never
    a wider range (a forged signal for ``range:0.0.0.0/0`` would block everyone)."""
    net = ipaddress.ip_network(ref.value, strict=False)
    if ref.scope == "ip" and net.version == 4 and net.prefixlen == 32:
        return net
    if ref.scope == "range" and net.version == 6 and net.prefixlen == 64:
        return net
    raise ValueError(f"{NEW_SESSIONS_METRIC} signals an IPv4 address or an IPv6 /64 only")


def apply_manual_decisions(
    det: PartitionDetector, manuals: Iterable[ManualDecision]
) -> BatchResult:
    """Operators' decisions (``scrapeguard decisions add|delete``): in force at once,
    published, and fed to the actor's incident (an appeal lands where the block did)."""
    return _each(det, manuals, _manual, "manual_decision")


def _manual(det: PartitionDetector, out: BatchResult, m: ManualDecision) -> None:
    if m.ts < MIN_TS or _from_the_future(det, m.ts):
        # its ttl counts from ts: one dated far ahead would keep an allow in force for good
        raise ValueError("manual decision dated before 2000 or from the future")
    state = _state_of(det, m.actor, m.ts)
    decision = manual_decision(state, m, det.model_label)
    out.changed[m.actor] = state
    out.decisions.append(decision)
    out.latency_marks.append((decision, None))  # counted in the metrics
    out.stats[f"decision_manual_{decision.action}"] += 1
    ref = parse_actor(m.actor)  # the record's decoder checked it
    key = state.enforcement.incident or incident_key(
        state.group_flag(m.ts),
        ref.value if ref.scope == "ip" else None,
        m.actor,
        det.pseudo,
    )
    if decision.action != "allow":
        state.enforcement.incident = key
    out.feed.append(
        FeedItem(
            "decision",
            key,
            m.actor,
            m.ts,
            action=decision.action,
            reasons=decision.reasons,
            decision_id=decision.decision_id,
        )
    )


# labels that may clear a bot verdict: an analyst's or an upheld appeal — never a solved
# challenge (CAPTCHA-solving services exist)
CLEARS_BOT_VERDICT = frozenset({"verdict_human", "appeal_upheld"})


def apply_outcomes(det: PartitionDetector, outcomes: Iterable[ActorOutcome]) -> BatchResult:
    """Labels (:mod:`stream.core.outcomes`): they set the actor's verdict, and when the
    verdict changes and the actor has the evidence to be scored, the models that learn
    from labels learn its feature vector as it stands — once per change of verdict, so
    repeating a label teaches nothing more. Labels teach; they put no decision in force
    and lift none."""
    return _each(det, outcomes, _outcome, "outcome")


def _outcome(det: PartitionDetector, out: BatchResult, o: ActorOutcome) -> None:
    out.stats[f"outcome_{o.kind}"] += 1
    label = o.is_bot
    if label is None:
        return  # an abandoned challenge: a person who left or a bot that gave up
    state = det.actors.get(o.actor)
    if state is None:
        out.stats["outcome_unknown_actor"] += 1  # no evidence here to learn from
        return
    verdict = VERDICT_BOT if label else VERDICT_HUMAN
    if state.verdict == VERDICT_BOT and not label and o.kind not in CLEARS_BOT_VERDICT:
        out.stats["outcome_bot_verdict_kept"] += 1
        return
    if state.verdict == verdict:
        out.stats["outcome_repeated"] += 1  # taught when the verdict was set
        return
    state.verdict = verdict
    out.changed[o.actor] = state
    if state.counters.events < det.policy.score_min_events:
        out.stats["outcome_no_evidence"] += 1  # the verdict is kept; nothing to learn from
        return
    if not det.label_budget.take(det.clock()):
        out.stats["outcome_over_budget"] += 1  # the verdict is kept; the hour's budget is spent
        return
    x = det.vector(state, state.counters.last_ts)
    for slot in ("live", "shadow"):
        g = det.guard(slot)
        if g is not None and g.learn_label(x, label):
            out.stats[f"outcome_learned_{slot}"] += 1
            det.sync_model(slot, g)
