"""Outcomes (labels) in the detector: they teach the models that learn from labels and set
the actor's verdict; they never put a decision in force."""

from __future__ import annotations

from models import REGISTRY
from stream.core import side_inputs
from stream.core.actor_state import VERDICT_BOT, VERDICT_HUMAN, VERDICT_NONE
from stream.core.batch import Limits
from stream.core.operator_records import ManualDecision
from stream.core.outcomes import ActorOutcome
from stream.core.partition_detector import PartitionDetector
from stream.core.policy_loader import load_policy
from tests.helpers import T0, Rec, event, rec

POLICY = load_policy()


def detector(model: str) -> PartitionDetector:
    spec = REGISTRY.get(model).spec()
    return PartitionDetector(
        "requests", 0, POLICY, REGISTRY.build(spec), spec.label(), Limits(), clock=lambda: T0 + 1e5
    )


def browsing(account: str, n: int = 12) -> list[Rec]:
    """A person's few page views: scored (from 5 events), nothing to act on."""
    return [
        rec(i, event(i, T0 + i * 40.0, account, path=f"/articles/{i}", referrer="/"))
        for i in range(n)
    ]


def outcome(actor: str, kind: str) -> ActorOutcome:
    return ActorOutcome(f"o-{actor}-{kind}", actor, kind, "case 17", "analyst", T0 + 1e5)


def test_a_bot_verdict_teaches_the_supervised_model_and_is_kept() -> None:
    det = detector("supervised")
    out = det.process(browsing("carol"))
    assert not out.decisions and out.scores
    state = det.actors.get("account:carol")
    assert state is not None and state.verdict == VERDICT_NONE
    x = det.vector(state, state.counters.last_ts)
    before = det.model.score_one(x)
    assert before is not None

    res = side_inputs.apply_outcomes(det, [outcome("account:carol", "verdict_bot")])

    assert res.stats["outcome_verdict_bot"] == 1 and res.stats["outcome_learned_live"] == 1
    assert state.verdict == VERDICT_BOT and res.changed == {"account:carol": state}
    after = det.model.score_one(x)
    assert after is not None and after > before  # one step towards "bot"
    assert not res.decisions  # labels teach; they do not enforce


def test_a_human_label_moves_the_score_down() -> None:
    det = detector("supervised")
    det.process(browsing("dave"))
    state = det.actors.get("account:dave")
    assert state is not None
    x = det.vector(state, state.counters.last_ts)
    before = det.model.score_one(x)
    res = side_inputs.apply_outcomes(det, [outcome("account:dave", "appeal_upheld")])
    after = det.model.score_one(x)
    assert before is not None and after is not None and after < before
    assert state.verdict == VERDICT_HUMAN and res.stats["outcome_learned_live"] == 1


def test_an_actor_labelled_a_bot_is_no_longer_learned_as_normal_traffic() -> None:
    det = detector("hst")
    det.process(browsing("erin", 10))
    state = det.actors.get("account:erin")
    assert state is not None
    res = side_inputs.apply_outcomes(det, [outcome("account:erin", "challenge_failed")])
    assert state.verdict == VERDICT_BOT
    assert res.stats["outcome_learned_live"] == 0  # HST learns no labels: verdict only
    assert not det._trusted(state, state.counters.last_ts, None)
    other = detector("hst")
    other.process(browsing("erin", 10))
    kept = other.actors.get("account:erin")
    assert kept is not None and other._trusted(kept, kept.counters.last_ts, None)


def test_abandoned_challenges_and_unknown_actors_teach_nothing_and_are_counted() -> None:
    det = detector("supervised")
    det.process(browsing("frank"))
    state = det.actors.get("account:frank")
    assert state is not None
    res = side_inputs.apply_outcomes(
        det,
        [outcome("account:frank", "challenge_abandoned"), outcome("account:nobody", "verdict_bot")],
    )
    assert res.stats["outcome_challenge_abandoned"] == 1
    assert res.stats["outcome_unknown_actor"] == 1
    assert res.stats["outcome_learned_live"] == 0 and not res.changed
    assert state.verdict == VERDICT_NONE and det.actors.get("account:nobody") is None


def test_a_label_on_an_actor_without_evidence_sets_the_verdict_and_teaches_nothing() -> None:
    """A manual block creates the state of an actor that sent nothing: its vector is not
    evidence of anything, so a label on it must not move the model."""
    det = detector("supervised")
    det.process(browsing("ivan"))
    ivan = det.actors.get("account:ivan")
    assert ivan is not None
    x = det.vector(ivan, ivan.counters.last_ts)
    before = det.model.score_one(x)
    block = ManualDecision("m1", "account:ghost", "add", "block", 3600.0, "case 9", "op", T0)
    side_inputs.apply_manual_decisions(det, [block])
    state = det.actors.get("account:ghost")
    assert state is not None and state.counters.events == 0
    res = side_inputs.apply_outcomes(det, [outcome("account:ghost", "verdict_bot")])
    assert state.verdict == VERDICT_BOT
    assert res.stats["outcome_no_evidence"] == 1 and res.stats["outcome_learned_live"] == 0
    assert det.model.score_one(x) == before  # nobody's score moved


def test_repeating_a_label_teaches_once() -> None:
    det = detector("supervised")
    det.process(browsing("gina"))
    state = det.actors.get("account:gina")
    assert state is not None
    x = det.vector(state, state.counters.last_ts)
    first = side_inputs.apply_outcomes(det, [outcome("account:gina", "verdict_bot")])
    after_one = det.model.score_one(x)
    again = side_inputs.apply_outcomes(det, [outcome("account:gina", "verdict_bot")] * 100)
    assert first.stats["outcome_learned_live"] == 1
    assert again.stats["outcome_repeated"] == 100 and again.stats["outcome_learned_live"] == 0
    assert det.model.score_one(x) == after_one


def test_a_solved_challenge_does_not_clear_a_bot_verdict_an_upheld_appeal_does() -> None:
    det = detector("supervised")
    det.process(browsing("hugo"))
    state = det.actors.get("account:hugo")
    assert state is not None
    side_inputs.apply_outcomes(det, [outcome("account:hugo", "verdict_bot")])
    solved = side_inputs.apply_outcomes(det, [outcome("account:hugo", "challenge_solved")])
    assert solved.stats["outcome_bot_verdict_kept"] == 1
    assert solved.stats["outcome_learned_live"] == 0 and state.verdict == VERDICT_BOT
    upheld = side_inputs.apply_outcomes(det, [outcome("account:hugo", "appeal_upheld")])
    assert upheld.stats["outcome_learned_live"] == 1 and state.verdict == VERDICT_HUMAN


def test_a_flood_of_labels_teaches_no_more_than_the_hours_budget() -> None:
    now = [T0 + 1e5]
    spec = REGISTRY.get("supervised").spec()
    det = PartitionDetector(
        "requests", 0, POLICY, REGISTRY.build(spec), spec.label(), Limits(labels_per_hour=2),
        clock=lambda: now[0],
    )  # fmt: skip
    for name in ("a1", "a2", "a3", "a4"):
        det.process(browsing(name))
    flood = side_inputs.apply_outcomes(
        det, [outcome(f"account:{n}", "verdict_bot") for n in ("a1", "a2", "a3")]
    )
    assert flood.stats["outcome_learned_live"] == 2 and flood.stats["outcome_over_budget"] == 1
    third = det.actors.get("account:a3")
    assert third is not None and third.verdict == VERDICT_BOT  # the verdict is kept all the same
    now[0] += 1800  # half an hour refills one label
    later = side_inputs.apply_outcomes(det, [outcome("account:a4", "verdict_bot")])
    assert later.stats["outcome_learned_live"] == 1
