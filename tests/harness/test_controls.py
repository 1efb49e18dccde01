"""Controls: rules-only derived from reasons, the constant scorer, lift (pure)."""

import pytest

from stream.core.policy_loader import load_policy
from stream.harness.controls import (
    CONSTANT,
    MODEL,
    RULES_ONLY,
    Arm,
    ConstantScorer,
    Controls,
    controls_of_live,
    paired_time_diff,
    reason_kind,
    rules_only_from_reasons,
    rules_only_policy,
)
from stream.harness.evaluation import evaluate


def dec(actor: str, action: str, ts: float, *reasons: str, **kw: object) -> dict[str, object]:
    return {
        "actor": actor,
        "action": action,
        "ts": ts,
        "reasons": list(reasons),
        "shadow": kw.get("shadow", False),
        "expires_at": kw.get("expires_at", ts + 3600),
    }


def test_reason_kinds() -> None:
    assert reason_kind("anomaly_score 0.970 > 0.9 with no_sleep") == "model"
    assert (
        reason_kind("accounts_per_subnet 37 > 20 (203.0.113.0/24) with anomaly_score 0.62")
        == "group_score"
    )
    assert reason_kind("profiles_per_hour 310 > 300") == "rule"
    assert reason_kind("new_account_profiles_per_hour 90 > 50") == "rule"
    assert reason_kind("profile_views_after_challenge 60 > 50") == "escalation"
    assert reason_kind("renewal") == "renewal"
    assert reason_kind("random_audit") == "audit"
    assert reason_kind("manual: analyst") == "manual"
    assert reason_kind("challenge_expired") == "expiry"


def test_rules_only_from_reasons() -> None:
    decisions = [
        dec("m", "challenge", 100, "anomaly_score 0.97 > 0.9"),  # the model alone
        dec("m", "block", 200, "profile_views_after_challenge 60 > 50"),  # escalates it
        dec("r", "challenge", 150, "anomaly_score 0.95 > 0.9", "profiles_per_hour 310 > 300"),
        dec("r", "block", 250, "profile_views_after_challenge 60 > 50"),  # rules' in force
        dec("g", "challenge", 120, "accounts_per_ip 9 > 8 (1.2.3.4) with anomaly_score 0.7"),
        dec("s", "challenge", 130, "profiles_per_hour 400 > 300", shadow=True),
        dec("x", "block", 300, "profile_views_after_challenge 60 > 50"),
        dec("e", "challenge", 100, "profiles_per_hour 310 > 300", expires_at=150),
        dec("e", "block", 200, "profile_views_after_challenge 60 > 50"),  # expired by then
        dec("a", "allow", 400, "challenge_expired"),
    ]
    kept = rules_only_from_reasons(decisions)
    assert [(d["actor"], d["action"]) for d in kept] == [
        ("e", "challenge"),
        ("r", "challenge"),
        ("r", "block"),
    ]


def test_constant_scorer_and_rules_only_policy() -> None:
    s = ConstantScorer(0.7)
    assert s.score_one({"a": 1.0}) == 0.7 and s.learn_one({"a": 1.0}) is None
    with pytest.raises(ValueError):
        ConstantScorer(1.5)
    policy = load_policy()
    ro = rules_only_policy(policy)
    assert ro.score_challenge > 1 and ro.groups.member_min_score > 1
    assert ro.limits == policy.limits  # the rules themselves are unchanged
    assert policy.score_challenge <= 1  # the original is not touched (frozen)


LABELS = {"b1": "bulk_scraper", "b2": "bulk_scraper", "h1": "human", "h2": "human"}
FIRST = dict.fromkeys(LABELS, 1000.0)


def test_live_controls_and_lift() -> None:
    decisions = [
        dec("b1", "challenge", 1060, "requests_per_minute 300 > 240"),
        dec("b2", "challenge", 1030, "anomaly_score 0.99 > 0.9"),
        dec("b2", "block", 1500, "requests_per_minute 300 > 240"),  # later the rules too
        dec("h1", "challenge", 2000, "anomaly_score 0.93 > 0.9"),
    ]
    rep = evaluate(LABELS, decisions, FIRST, {"b1": 0.8, "b2": 0.99, "h1": 0.93, "h2": 0.1})
    c = controls_of_live(LABELS, rep, decisions, FIRST)
    model, rules, const = c.arm(MODEL), c.arm(RULES_ONLY), c.arm(CONSTANT)
    assert model and rules and const
    assert model.recall["bulk_scraper"] == 1.0 and rules.recall["bulk_scraper"] == 1.0
    assert model.people_acted == 1 and rules.people_acted == 0
    assert "derived" in rules.how and rules.auc_all is None
    assert not const.measured and const.auc_scored == 0.5 and const.auc_note == "by definition"
    lift = c.lift(RULES_ONLY)
    assert lift is not None
    assert lift["recall"]["bulk_scraper"] == 0.0 and lift["people_acted"] == 1
    assert lift["precision"] == pytest.approx(2 / 3 - 1.0)
    # b1 at 60 s both; b2 at 30 s by the model, 500 s by the rules
    assert lift["first_action_pairs"] == 2
    assert lift["first_action_paired_median_s"] == pytest.approx((0 - 470) / 2)
    assert lift["first_action_paired_mean_s"] == pytest.approx((0 - 470) / 2)
    const_lift = c.lift(CONSTANT)
    assert const_lift is not None and set(const_lift) == {"auc_all", "auc_scored"}
    assert const_lift["auc_scored"] == pytest.approx(model.auc_scored - 0.5)  # type: ignore[operator]
    doc = c.as_dict()
    assert [a["name"] for a in doc["arms"]] == [MODEL, RULES_ONLY, CONSTANT]
    assert "first_action_s" not in doc["arms"][0]


def test_paired_time_difference_ignores_bots_only_one_arm_caught() -> None:
    a = Arm(MODEL, "x", True, first_action_s={"b1": 10.0, "b2": 20.0, "b3": 5000.0})
    b = Arm(RULES_ONLY, "y", True, first_action_s={"b1": 100.0, "b2": 20.0})
    median, mean, pairs = paired_time_diff(a, b)
    assert pairs == 2 and median == pytest.approx(-45.0) and mean == pytest.approx(-45.0)
    c = Arm(CONSTANT, "z", True, first_action_s={"b1": 10.0, "b2": 20.0, "b3": 8600.0})
    assert paired_time_diff(a, c) == (0.0, pytest.approx(-3600.0 / 3), 3)
    assert paired_time_diff(a, Arm(CONSTANT, "z", True)) == (None, None, 0)
    assert Controls([a]).lift(RULES_ONLY) is None
