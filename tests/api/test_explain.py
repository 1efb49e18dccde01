"""Explain in words: what the policy lets the model's score do."""

from __future__ import annotations

import orjson

from stream.api.explain import explain
from stream.core.actor_state import ActorState
from stream.core.policy_loader import parse_policy
from stream.core.records import Decision
from stream.core.validation import validate
from tests.helpers import T0, crawler, event


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
    assert "challenge above 0.8 with a sign of automation, above 0.99 without one" in words
    assert "above 0.99" not in score_words("[score]\nchallenge_alone = 1.0")
    alone = score_words("[score]\nrequire_one_of = []\nchallenge = 0.8")
    assert "challenge above 0.8;" in alone and "sign of automation," not in alone
    assert "below the gates, with regular page timing from 10 profiles an hour" in words
    assert "below the gates, from a reader of robots.txt after 20 profiles a day" in words
    assert "robots.txt" not in score_words("[score]\ncrawler_min_profiles_per_day = 0")
    assert "robots.txt" not in score_words("[score]\nrequire_one_of = ['automation_ua']")
    assert "page timing" not in score_words("[score]\nregular_min_profiles_per_hour = 0")
    only = score_words("[score]\nrequire_one_of = ['rapid_pages']")
    assert "below the gates, with hurried page timing from 10" in only
    # with no sign required the run still lets the score act below the gates
    assert "below the gates, with regular or hurried page timing" in alone
    assert "too little activity for the score to act now" in words  # 12 requests


def test_a_group_member_is_told_what_evidence_of_its_own_the_group_needs() -> None:
    s = state_of(12)
    s.group_reason, s.group_expires = "accounts_per_ip 9 > 8 (p_1)", T0 + 3600
    out = explain("account:alice", s, parse_policy(""), [], "m@1", T0 + 60)
    words = next(w for w in out["words"] if w.startswith("It belongs to a group"))
    assert "only with its own score of 0.85 or more from 10 profile views an hour" in words
    assert words.endswith(
        "(it has 12), and a sign of automation or a score above 0.99 (or neither once 50% "
        "of the group's accounts score 0.85 or more; now 0%)."
    )
    s.group_share = 0.75  # most of the group scores high: the group's own evidence
    words = next(
        w
        for w in explain("account:alice", s, parse_policy(""), [], "m@1", T0 + 60)["words"]
        if w.startswith("It belongs to a group")
    )
    assert words.endswith(
        "(it has 12); it needs no sign of automation: 75% of the group's accounts score 0.85 "
        "or more."
    )
    s.group_share = 0.0
    never = parse_policy("[groups]\nmember_challenge_alone = 1.0\nmember_share_alone = 0\n")
    words = next(
        w
        for w in explain("account:alice", s, never, [], "m@1", T0 + 60)["words"]
        if w.startswith("It belongs to a group")
    )
    assert words.endswith("(it has 12), and a sign of automation.")
    anything = parse_policy("[score]\nrequire_one_of = []\n")
    words = next(
        w
        for w in explain("account:alice", s, anything, [], "m@1", T0 + 60)["words"]
        if w.startswith("It belongs to a group")
    )
    assert words.endswith("(it has 12).")


def test_a_crawler_challenged_below_the_gates_is_not_told_it_did_too_little() -> None:
    reader = crawler(20)
    policy = parse_policy("")
    out = explain("ip:192.0.2.9", reader, policy, [], "m@1", reader.last_ts)
    words = next(w for w in out["words"] if w.startswith("Anomaly score"))
    assert "too little activity" not in words and "robots_txt" in words
    few = crawler(10)  # under the day's floor of 20: the score cannot act yet
    out = explain("ip:192.0.2.9", few, policy, [], "m@1", few.last_ts)
    words = next(w for w in out["words"] if w.startswith("Anomaly score"))
    assert "too little activity for the score to act now" in words


def test_a_decision_read_back_with_a_time_no_date_holds_is_explained_not_a_500() -> None:
    # the decisions topic is written by workers, but anyone with write access can fill it:
    # a decision dated 1e300 in an actor's history made /explain answer 500 (review)
    forged = Decision.from_dict(
        {
            "decision_id": "d1",
            "actor": "account:alice",
            "action": "block",
            "reasons": ["forged"],
            "score": None,
            "ttl_s": 60,
            "expires_at": 1e300,
            "ts": 1e300,
            "shadow": False,
        }
    )
    policy = parse_policy("")
    out = explain("account:alice", None, policy, [forged], "m@1", T0)
    assert out["words"][-1] == "Its last decision was block at a time no date holds (1e+300)."
    known = explain("account:alice", state_of(3), policy, [forged], "m@1", T0)
    assert known["decisions"][0]["ts"] == 1e300
