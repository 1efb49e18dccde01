"""How one partition judges its actors: the model's score when an actor is due (see
:mod:`stream.core.scoring`), what the models learn from, the challenger in shadow, random
audits, and the policy's verdict turned into a decision.

The base of :class:`~stream.core.partition_detector.PartitionDetector`, which validates
and counts the events and calls in here; the two are one object (the detector's state is
the actors this judges), kept in two files so that each holds one concept.
"""

from __future__ import annotations

from models import Scorer
from stream.core.actions import Action
from stream.core.actor_state import VERDICT_BOT, ActorState
from stream.core.batch import BatchResult, Record
from stream.core.enforcement import active_action, decision_id, step
from stream.core.features import StreamContext, features, withhold
from stream.core.incidents import incident_key
from stream.core.internal_records import FeedItem
from stream.core.policy import Policy, Verdict
from stream.core.pseudonym import Pseudonymizer
from stream.core.records import DeadLetter, Decision, Score, Source
from stream.core.scoring import INTERVAL, LEARN_MIN_EVENTS, GuardedModel, sampled


class PartitionScoring:
    """The live model, the challenger and the verdicts of one input partition."""

    # set by the detector (stream.core.partition_detector)
    topic: str
    partition: int
    policy: Policy
    pseudo: Pseudonymizer  # names in reasons and incident keys
    context: StreamContext  # what this partition's traffic carries
    record_ts: float | None  # Kafka timestamp of the record in hand

    def __init__(self, model: Scorer, model_label: str) -> None:
        self.model = model
        self.model_label = model_label
        self.shadow: Scorer | None = None  # the challenger, when one is deployed
        self.shadow_label = ""
        self.shadow_flags: dict[str, float] = {}  # actor -> end of its shadow challenge
        self.history: list[tuple[Scorer, str]] = []  # earlier live models, for rollback
        self.export_vectors = False  # keep every scored vector in the result (training)
        self.export_grown = False  # and those scored as events doubled, not only per interval
        self.withheld: frozenset[str] = frozenset()  # features seen at their neutral value
        self._guards: dict[str, GuardedModel] = {}

    def guard(self, slot: str) -> GuardedModel | None:
        """The live or shadow model, guarded against its own errors."""
        model = self.model if slot == "live" else self.shadow
        if model is None:
            return None
        g = self._guards.get(slot)
        if g is None or g.model is not model:
            label = self.model_label if slot == "live" else self.shadow_label
            g = self._guards[slot] = GuardedModel(model, label)
        return g

    def sync_model(self, slot: str, g: GuardedModel) -> None:
        """After an error the guard holds the restored model: put it in its slot."""
        if slot == "live" and self.model is not g.model:
            self.model = g.model
        elif slot == "shadow" and self.shadow is not g.model:
            self.shadow = g.model

    def _score(
        self,
        out: BatchResult,
        state: ActorState,
        actor: str,
        ts: float,
        event_id: str,
        ip: str | None,
        ua: str,
        rec: Record,
        now: float,
        due: int = INTERVAL,
    ) -> None:
        """Score an actor that is due (see :mod:`stream.core.scoring`), act, learn."""
        policy = self.policy
        if due == INTERVAL:
            state.next_score_ts = ts + policy.score_interval_s
        x = self.vector(state, ts)
        if self.export_vectors and (due == INTERVAL or self.export_grown):
            out.vectors.append((actor, ts, x))  # what the model would learn from
        live = self.guard("live")
        assert live is not None
        score = live.score(x)
        self.sync_model("live", live)
        if isinstance(score, Exception):
            self._dead(out, rec, "processing_error", f"model {live.label}: {score}", now)
            return
        flagged = False
        if score is not None:
            state.score = score
            out.scores.append(Score(actor, score, ts, live.label, "live"))
            out.stats["scored"] += 1
            if not state.allowlisted:
                flagged = self.decide(out, state, actor, ts, event_id, ip, ua)
                if not flagged and sampled(
                    actor, ts, policy.score_interval_s, policy.random_challenge_rate
                ):
                    flagged = self._audit(out, state, actor, ts, event_id)
        if (
            due == INTERVAL
            and self._trusted(state, ts, score)
            and sampled(actor, ts, policy.score_interval_s, policy.learn_sample_rate)
        ):
            if live.learn(x) is None:
                out.stats["learned"] += 1
            self.sync_model("live", live)
        if self.shadow is not None:
            self._shadow(out, state, actor, ts, event_id, x, flagged)

    def _trusted(self, state: ActorState, ts: float, score: float | None) -> bool:
        """Traffic the models may learn as normal (see :mod:`stream.core.scoring`)."""
        c = state.counters
        return (
            not state.allowlisted
            and state.verdict != VERDICT_BOT
            and state.enforcement.active(ts) == Action.ALLOW
            and (score is None or score <= self.policy.score_challenge)
            and not c.automation
            and c.seq_share <= 0.5
            and c.events >= LEARN_MIN_EVENTS
        )

    def _audit(
        self, out: BatchResult, state: ActorState, actor: str, ts: float, event_id: str
    ) -> bool:
        """A random challenge (``[score] random_challenge_rate``): an unbiased label."""
        d = step(
            state,
            Verdict(Action.CHALLENGE, ("random_audit",)),
            actor=actor,
            ts=ts,
            trigger_event_id=event_id,
            policy=self.policy,
            model_label=self.model_label,
        )
        if d is None:
            return False
        out.decisions.append(d)
        out.latency_marks.append((d, self.record_ts))
        out.stats["decision_audit"] += 1
        return True

    def vector(self, state: ActorState, ts: float) -> dict[str, float]:
        """The features the models see; withheld ones (an evaluation without them) neutral."""
        return withhold(features(state, ts, self.context), self.withheld)

    def _shadow(
        self,
        out: BatchResult,
        state: ActorState,
        actor: str,
        ts: float,
        event_id: str,
        x: dict[str, float],
        live_flagged: bool,
    ) -> None:
        """The challenger scores the same actors; its would-be decisions are shadow-only."""
        g = self.guard("shadow")
        assert g is not None
        policy = self.policy
        score = g.score(x)
        self.sync_model("shadow", g)
        if isinstance(score, Exception):
            return  # the live model decides; the challenger's error is counted
        if score is not None:
            out.scores.append(Score(actor, score, ts, g.label, "shadow"))
        # the live model never decides about an allowlisted actor; neither does the challenger
        reason = (
            policy.score_reason(state, score) if score is not None and not state.allowlisted else ""
        )
        if reason and self.shadow_flags.get(actor, 0.0) <= ts:
            assert score is not None
            ttl = policy.ttl_challenge_s
            self.shadow_flags[actor] = ts + ttl
            out.decisions.append(
                Decision(
                    decision_id=decision_id(actor, "challenge", f"{event_id}:{g.label}", True),
                    actor=actor,
                    action="challenge",
                    reasons=[reason],
                    score=round(score, 4),
                    model=g.label,
                    ttl_s=ttl,
                    expires_at=ts + ttl,
                    ts=ts,
                    shadow=True,
                    trigger_event_id=event_id,
                )
            )
            out.stats["decision_shadow_challenge"] += 1
        elif not reason and not live_flagged and self._trusted(state, ts, score):
            g.learn(x)
            self.sync_model("shadow", g)

    def decide(
        self,
        out: BatchResult,
        state: ActorState,
        actor: str,
        ts: float,
        event_id: str,
        ip: str | None = None,
        user_agent: str = "",
        verdict: Verdict | None = None,
    ) -> bool:
        """Put what the policy asks for now in force (or ``verdict``, when the caller has
        judged: an address's new sessions); publish a decision when that changes."""
        policy = self.policy
        if verdict is None:
            verdict = policy.evaluate(state, ts, active_action(state, ts))
        decision = step(
            state,
            verdict,
            actor=actor,
            ts=ts,
            trigger_event_id=event_id,
            policy=policy,
            model_label=self.model_label,
        )
        if decision is None:
            return False
        out.decisions.append(decision)
        out.latency_marks.append((decision, self.record_ts))
        out.stats[f"decision_{decision.action}"] += 1
        if not decision.shadow and decision.action != "allow":
            key = incident_key(state.group_flag(ts), ip, actor, self.pseudo)
            state.enforcement.incident = key
            out.feed.append(
                FeedItem(
                    "decision",
                    key,
                    actor,
                    ts,
                    ip=ip,
                    user_agent=user_agent,
                    action=decision.action,
                    reasons=decision.reasons,
                    decision_id=decision.decision_id,
                )
            )
        return True

    def _dead(self, out: BatchResult, rec: Record, reason: str, detail: str, now: float) -> None:
        out.deadletters.append(
            DeadLetter(
                reason,
                detail,
                Source(self.topic, self.partition, rec.offset),
                rec.key,
                rec.value,
                now,
            )
        )
        out.stats[f"dead_{reason}"] += 1
