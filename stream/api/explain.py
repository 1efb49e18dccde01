"""Why an actor is (or is not) challenged or blocked, in words a non-engineer follows."""

from __future__ import annotations

from typing import Any

from stream.core.actions import Action
from stream.core.actor_state import ActorState
from stream.core.automation import SIGNALS, automation_signals
from stream.core.features import features
from stream.core.policy import Policy
from stream.core.records import Decision
from stream.core.utc_text import utc_text

WORDS = {
    "requests_per_minute": "requests in the last minute",
    "requests_per_hour": "requests in the last hour",
    "requests_per_day": "requests in the last day",
    "profiles_per_hour": "different profiles viewed in the last hour",
    "profiles_per_day": "different profiles viewed in the last day",
    "errors_per_hour": "failed requests (4xx/5xx) in the last hour",
    "ips_per_hour": "different IP addresses used in the last hour",
}


_RUN_WORDS = {"regular": "regular", "rapid": "hurried"}  # Policy.page_runs, in words


def _score_rule(policy: Policy) -> str:
    """When the policy lets a score challenge, in words."""
    rule = f"challenge above {policy.score_challenge:g}"
    if policy.score_require_one_of:
        rule += " with a sign of automation"
        if policy.score_challenge_alone < 1.0:
            alone = max(policy.score_challenge_alone, policy.score_challenge)
            rule += f", above {alone:g} without one"
    if policy.regular_run_floor > 0:
        runs = [_RUN_WORDS[run] for run in policy.page_runs]
        rule += (
            f"; below the gates, with {' or '.join(runs)} page timing from "
            f"{policy.regular_run_floor} profiles an hour"
        )
    if policy.crawler_floor > 0:
        rule += (
            f"; below the gates, from a reader of robots.txt after {policy.crawler_floor} "
            "profiles a day"
        )
    return rule


def explain(
    actor: str,
    state: ActorState | None,
    policy: Policy,
    history: list[Decision],
    model: str,
    now: float,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "actor": actor,
        "known": state is not None,
        "decisions": [d.as_dict() for d in history],
    }
    words: list[str] = []
    if state is None:
        words.append(
            "This worker holds no window state for this actor: it sent no request "
            "in the last two days (or never)."
        )
        if history:
            last = history[-1]
            words.append(f"Its last decision was {last.action} at {utc_text(last.ts)}.")
        out["words"] = words
        return out
    ts = state.last_ts
    c = state.counters
    age = c.account_age_days(ts)
    young = policy.is_young(state, ts)
    crawler = policy.is_crawler(state)
    limits = policy.limits_for(young, crawler)
    counters = {m: getattr(c, m) for m in WORDS}
    checks = []
    words.append(f"Newest request: {utc_text(ts)}; {c.events} requests counted in all.")
    if age is not None:
        words.append(
            f"The account was {age:.1f} days old then"
            + (
                f", younger than {policy.new_account_max_age_days:g} days, so the "
                "stricter new-account limits apply."
                if young
                else "."
            )
        )
    if crawler:
        words.append(
            "It shows itself a crawler (one user agent, which names a crawler, or no "
            "browser's that read robots.txt lately) and is not on the allowlist, so the "
            "stricter crawler limits apply."
        )
    for lim in limits:
        value = counters[lim.metric]
        status = (
            "over the block limit"
            if lim.block is not None and value > lim.block
            else "over the challenge limit"
            if lim.challenge is not None and value > lim.challenge
            else "within the limits"
        )
        checks.append(
            {
                "metric": lim.metric,
                "value": value,
                "challenge": lim.challenge,
                "block": lim.block,
                "status": status,
                "new_account": any(lim is x for x in policy.new_account_limits),
                "crawler": any(lim is x for x in policy.crawler_limits),
            }
        )
        bounds = " and ".join(
            f"{n} above {v:g}"
            for n, v in (("challenge", lim.challenge), ("block", lim.block))
            if v is not None
        )
        words.append(f"{value:g} {WORDS[lim.metric]} — the policy asks for a {bounds}: {status}.")
    group = state.group_flag(ts)
    if group:
        groups = policy.groups
        floor, alone = policy.member_bars()
        share, high = state.group_share_at(ts), f"score {groups.member_min_score:g} or more"
        if not policy.score_require_one_of:
            bar = "."  # the score may act without a sign
        elif groups.mostly_high(share):
            bar = f"; it needs no sign of automation: {share:.0%} of the group's accounts {high}."
        else:
            bar = ", and a sign of automation"
            if alone < 1.0:
                bar += f" or a score above {alone:g}"
            if groups.member_share_alone > 0:
                bar += (
                    f" (or neither once {groups.member_share_alone:.0%} of the group's "
                    f"accounts {high}; now {share:.0%})"
                )
            bar += "."
        words.append(
            f"It belongs to a group of accounts flagged together: {group}; the group acts "
            f"on it only with its own score of {floor:g} or more from "
            f"{policy.groups.member_min_profiles_per_hour} profile views an hour (it has "
            f"{c.profiles_per_hour}){bar}"
        )
    signals = automation_signals(
        c, state.behaviour, tuple(policy.score_require_one_of) or tuple(SIGNALS)
    )
    eligible = (
        policy.score_eligible(state)
        or bool(policy.page_run(state))
        or bool(policy.crawler_signs(state))
    )
    words.append(
        f"Anomaly score {state.score:.3f} from model {model} ({_score_rule(policy)}"
        + ("" if eligible else "; too little activity for the score to act now")
        + (f"; signs of automation: {', '.join(signals)}" if signals else "; no sign of automation")
        + ")."
    )
    action = state.enforcement.active(now if now > ts else ts)
    if action:
        words.append(f"In force now: {action.words} until {utc_text(state.enforcement.expires)}.")
    else:
        words.append("Nothing is in force now: requests are allowed.")
    out.update(
        {
            "counters": counters,
            "features": features(state, ts),
            "score": state.score,
            "model": model,
            "checks": checks,
            "group": group or None,
            "automation_signals": signals,
            "action_in_force": action.label,
            "expires_at": state.enforcement.expires if action != Action.ALLOW else None,
            "words": words,
        }
    )
    return out
