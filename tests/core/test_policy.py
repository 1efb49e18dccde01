from pathlib import Path

import pytest

from stream.core.actions import Action
from stream.core.actor_state import ActorState
from stream.core.policy import PolicyError
from stream.core.policy_loader import load_policy, parse_policy
from stream.core.records import RequestEvent
from tests.helpers import T0

POLICY = load_policy()


def actor(profiles: int, minutes: float = 50.0, created: float | None = None) -> ActorState:
    s = ActorState()
    step = minutes * 60 / max(profiles, 1)
    for i in range(profiles):
        s.apply(
            RequestEvent(
                f"e{i}",
                T0 + i * step,
                "account:a",
                "a",
                None,
                None,
                "",
                "GET",
                "/profiles/{id}",
                200,
                f"p{i}",
                created,
            ),
            i,
        )
    return s


@pytest.mark.parametrize(
    ("profiles", "created", "action", "reason"),
    [
        (10, None, Action.ALLOW, None),
        (260, None, Action.ALLOW, None),  # distinct counts above 32 are estimates (~5 % error)
        (340, None, Action.CHALLENGE, "profiles_per_hour"),
        (1300, None, Action.BLOCK, "profiles_per_hour"),
        (40, T0 - 86400, Action.ALLOW, None),
        (70, T0 - 86400, Action.CHALLENGE, "new_account_profiles_per_hour"),
        (130, T0 - 86400, Action.BLOCK, "new_account_profiles_per_hour"),
        (70, T0 - 30 * 86400, Action.ALLOW, None),  # older than max_age_days: normal limits
    ],
)
def test_limits_table(
    profiles: int, created: float | None, action: int, reason: str | None
) -> None:
    s = actor(profiles, created=created)
    v = POLICY.evaluate(s, s.last_ts, Action.ALLOW)
    assert v.action == action
    if reason:
        assert any(r.startswith(reason + " ") for r in v.reasons), v.reasons
        measured = next(r for r in v.reasons if r.startswith(reason + " "))
        assert " > " in measured  # "metric value > threshold"


def test_challenged_actor_that_keeps_going_is_blocked() -> None:
    s = actor(150)
    s.enforcement.views_at_action = 40
    assert POLICY.evaluate(s, s.last_ts, Action.CHALLENGE).action == Action.BLOCK
    assert (
        "profile_views_after_challenge 110 > 100"
        in POLICY.evaluate(s, s.last_ts, Action.CHALLENGE).reasons
    )
    assert POLICY.evaluate(s, s.last_ts, Action.ALLOW).action == Action.ALLOW


def test_score_challenges_only_with_enough_evidence_and_a_sign_of_automation() -> None:
    busy, quiet = actor(200, minutes=50), actor(10)
    for s in (busy, quiet):
        s.score = 0.9999
    # busy but browser-like (no automation signal): the score alone does not act
    assert POLICY.evaluate(busy, busy.last_ts, Action.ALLOW).action == Action.ALLOW
    busy.counters.automation = True
    v = POLICY.evaluate(busy, busy.last_ts, Action.ALLOW)
    assert v.action == Action.CHALLENGE
    assert v.reasons == ("anomaly_score 1.000 > 0.995 with automation_ua",)
    quiet.counters.automation = True
    # not enough evidence
    assert POLICY.evaluate(quiet, quiet.last_ts, Action.ALLOW).action == Action.ALLOW
    lenient = parse_policy(
        "[score]\nchallenge = 0.99\nrequire_one_of = []\n"
        "min_requests_per_hour = 10\nmin_profiles_per_hour = 10"
    )
    busy.counters.automation = False
    assert lenient.evaluate(busy, busy.last_ts, Action.ALLOW).action == Action.CHALLENGE


def test_allowlist_actors_ranges_agents_and_verified_crawlers() -> None:
    p = parse_policy("""
[allowlist]
actors = ["account:partner"]
ip_ranges = ["192.0.2.0/24"]
user_agents = ["^InternalMonitor/"]
[[allowlist.crawler]]
user_agent = "Googlebot"
ip_ranges = ["66.249.64.0/19"]
""")
    a = p.allowlist
    assert a.matches("account:partner", None, "")
    assert a.matches("ip:192.0.2.9", "192.0.2.9", "")
    assert a.matches("account:x", "10.0.0.1", "InternalMonitor/1.0")
    assert a.matches("ip:66.249.66.1", "66.249.66.1", "Mozilla/5.0 (compatible; Googlebot/2.1)")
    assert not a.matches("ip:10.0.0.1", "10.0.0.1", "Mozilla/5.0 (compatible; Googlebot/2.1)")
    assert not a.matches("account:x", "10.0.0.1", "Mozilla/5.0")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[limits\n", "not valid TOML"),
        ("[limits]\nprofiles_per_week = { challenge = 1 }", "unknown metric"),
        (
            "[limits]\nprofiles_per_hour = { challenge = 10, block = 5 }",
            "challenge must come first",
        ),
        ("[limits]\nprofiles_per_hour = 5", "must be"),
        ("[limitz]\n", "unknown section"),
        ("[score]\nchallenge = 3", "within 0..1"),
        ("[allowlist]\nip_ranges = ['999.1.1.1/8']", "ip_ranges"),
        ("[ttl]\nchallenge_s = 60\nrenew_before_s = 600", "renew_before_s"),
    ],
)
def test_bad_policy_files_give_clear_errors(text: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_policy(text)


def test_missing_policy_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read policy file"):
        load_policy(tmp_path / "nope.toml")


def test_default_policy_documents_shadow_and_ttls() -> None:
    assert POLICY.shadow is False
    assert POLICY.ttl_s(Action.BLOCK) == 86400 and POLICY.ttl_s(Action.CHALLENGE) == 3600
