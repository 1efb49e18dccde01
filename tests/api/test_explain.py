"""Explain in words: what the policy lets the model's score do."""

from __future__ import annotations

import orjson

from stream.api.explain import explain
from stream.core.actor_state import ActorState
from stream.core.policy_loader import parse_policy
from stream.core.validation import validate
from tests.helpers import T0, event


def state_of(n: int) -> ActorState:
    s = ActorState()
    for i in range(n):
        doc = event(i, T0 + 5.0 * i, target_profile_id=i)
        ev = validate(orjson.dumps(doc), now=T0 + 1e5)
        s.apply(ev, i)  # type: ignore[arg-type]
    s.score = 0.95
    return s


def score_words(policy_text: str) -> str:
    out = explain("account:alice", state_of(12), parse_policy(policy_text), [], "m@1", T0 + 1e5)
    return next(w for w in out["words"] if w.startswith("Anomaly score"))


def test_the_score_rule_names_the_sign_and_the_threshold_without_one() -> None:
    words = score_words("")
    assert "challenge above 0.8 with a sign of automation, above 0.97 without one" in words
    assert "above 0.97" not in score_words("[score]\nchallenge_alone = 1.0")
    alone = score_words("[score]\nrequire_one_of = []\nchallenge = 0.8")
    assert "challenge above 0.8;" in alone and "sign of automation," not in alone
    assert "below the gates, with regular page timing from 20 profiles an hour" in words
    assert "regular page timing" not in score_words("[score]\nregular_min_profiles_per_hour = 0")
