import dataclasses
from pathlib import Path

import pytest

from stream.core.actions import Action
from stream.core.actor_ref import parse_actor
from stream.core.actor_state import ActorState
from stream.core.policy import PolicyError
from stream.core.policy_loader import load_policy, parse_policy
from tests.helpers import T0, profile_walk

POLICY = load_policy()


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
    s = profile_walk(profiles, created=created)
    v = POLICY.evaluate(s, s.last_ts, Action.ALLOW)
    assert v.action == action
    if reason:
        assert any(r.startswith(reason + " ") for r in v.reasons), v.reasons
        measured = next(r for r in v.reasons if r.startswith(reason + " "))
        assert " > " in measured  # "metric value > threshold"


def test_challenged_actor_that_keeps_going_is_blocked() -> None:
    s = profile_walk(150)
    s.enforcement.views_at_action = 40
    assert POLICY.evaluate(s, s.last_ts, Action.CHALLENGE).action == Action.BLOCK
    assert (
        "profile_views_after_challenge 110 > 100"
        in POLICY.evaluate(s, s.last_ts, Action.CHALLENGE).reasons
    )
    assert POLICY.evaluate(s, s.last_ts, Action.ALLOW).action == Action.ALLOW


def test_score_challenges_only_with_enough_evidence_and_a_sign_of_automation() -> None:
    busy, quiet = profile_walk(200, minutes=50, irregular=True), profile_walk(10)
    for s in (busy, quiet):
        s.score = 0.9999
    # busy but browser-like (no sign of automation: irregular clicks, a browser): above
    # `challenge` the score does not act ...
    busy.score = 0.98
    assert POLICY.evaluate(busy, busy.last_ts, Action.ALLOW).action == Action.ALLOW
    # ... above `challenge_alone` it does
    busy.score = 0.9999
    v = POLICY.evaluate(busy, busy.last_ts, Action.ALLOW)
    assert v.action == Action.CHALLENGE
    assert v.reasons == ("anomaly_score 1.000 > 0.99",)
    never = parse_policy("[score]\nchallenge_alone = 1.0")
    assert never.evaluate(busy, busy.last_ts, Action.ALLOW).action == Action.ALLOW
    busy.counters.automation = True
    v = POLICY.evaluate(busy, busy.last_ts, Action.ALLOW)
    assert v.action == Action.CHALLENGE
    assert v.reasons == ("anomaly_score 1.000 > 0.8 with automation_ua",)
    # a metronome's rhythm of page views is a sign too
    metronome = profile_walk(200, minutes=50)
    metronome.score = 0.85
    v = POLICY.evaluate(metronome, metronome.last_ts, Action.ALLOW)
    assert v.reasons == ("anomaly_score 0.850 > 0.8 with regular_pages",)
    quiet.counters.automation = True
    # not enough evidence
    assert POLICY.evaluate(quiet, quiet.last_ts, Action.ALLOW).action == Action.ALLOW
    lenient = parse_policy(
        "[score]\nchallenge = 0.99\nrequire_one_of = []\n"
        "min_requests_per_hour = 10\nmin_profiles_per_hour = 10"
    )
    busy.counters.automation = False
    assert lenient.evaluate(busy, busy.last_ts, Action.ALLOW).action == Action.CHALLENGE


def test_allowlist_entries_are_named_as_events_name_their_clients() -> None:
    """A dual-stack log shows IPv4 clients as IPv4-mapped IPv6 addresses; events name
    them by their IPv4 address, so the allowlist's entries written that way do too."""
    p = parse_policy(
        '[allowlist]\nip_ranges = ["::ffff:198.51.100.0/120"]\n'
        'actors = ["ip:::ffff:203.0.113.9", "ip:2001:DB8::1", "not an actor"]\n'
    )
    allow = p.allowlist
    assert allow.matches("ip:198.51.100.200", "198.51.100.200", "")
    assert not allow.matches("ip:198.51.101.1", "198.51.101.1", "")
    assert allow.matches("ip:203.0.113.9", "203.0.113.9", "")
    assert allow.matches("ip:2001:db8::1", "2001:db8::1", "")
    assert parse_actor("range:::ffff:198.51.100.0/120").value == "198.51.100.0/24"
    assert parse_actor("range:2001:db8::/64").value == "2001:db8::/64"


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
        ("[limits]\nprofiles_per_week = { challenge = 1 }", "unknown key 'profiles_per_week'"),
        (
            "[limits]\nprofiles_per_hour = { challenge = 10, block = 5 }",
            "challenge must come first",
        ),
        ("[limits]\nprofiles_per_hour = 5", "must be"),
        ("[limitz]\n", "unknown section or key 'limitz' \\(did you mean 'limits'\\?\\)"),
        ("[score]\nchallenge = 3", "at most 1"),
        ("[allowlist]\nip_ranges = ['999.1.1.1/8']", "ip_ranges"),
        ("[ttl]\nchallenge_s = 60\nrenew_before_s = 600", "renew_before_s"),
        # past ten years a decision's end is no time a record may carry back
        ("[ttl]\nblock_s = 1e300", "block_s must be at most 315360000, not 1e\\+300"),
        ("[groups]\nsignal_ttl_s = 4e8", "signal_ttl_s must be at most"),
        ("[score]\ninterval_s = 1e300", "interval_s must be at most"),
        # TOML's nan passed every bound; a state it made (an expiry of nan) did not read back
        ("[ttl]\nblock_s = nan", "block_s must be a finite number, not nan"),
        ("[score]\ninterval_s = nan", "interval_s must be a finite number"),
        ("[groups]\nsignal_ttl_s = inf", "signal_ttl_s must be a finite number"),
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


def test_the_mistakes_of_the_issue_are_refused_with_file_and_line() -> None:
    text = """# my policy
shadow = "false"

[allowlist]
ips = ["192.0.2.0/24"]

[score]
chalenge = 0.5
min_requests_per_hour = 10.5
"""
    with pytest.raises(PolicyError) as err:
        parse_policy(text, source="mine.toml")
    lines = str(err.value).splitlines()
    assert lines == [
        "mine.toml:2: shadow must be true or false (no quotes), not the string 'false'",
        "mine.toml:5: [allowlist] unknown key 'ips'; known: actors, crawler, ip_ranges, "
        "user_agents",
        "mine.toml:8: [score] unknown key 'chalenge' (did you mean 'challenge'?); known: "
        "challenge, challenge_alone, crawler_min_profiles_per_day, interval_s, "
        "learn_sample_rate, min_events, min_profiles_per_hour, "
        "min_requests_per_hour, random_challenge_rate, regular_min_profiles_per_hour, "
        "require_one_of",
        "mine.toml:9: [score] min_requests_per_hour must be a whole number, not 10.5",
    ]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("shadow = 1", 1, "shadow must be true or false"),
        ("[ttl]\nblock_s = -5", 2, "[ttl] block_s must be above 0"),
        ("[groups]\n\nsignal_ttl_s = 'hour'", 3, "must be a number, not the string 'hour'"),
        ("[groups]\nmember_min_profiles_per_hour = 2.5", 2, "must be a whole number, not 2.5"),
        ("[limits]\nrequests_per_hour = { challenge = true }", 2, "must be a number, not true"),
        ("[limits]\nrequests_per_hour = { challenge = 1, blok = 2 }", 2, "unknown entries"),
        ("[score]\nrequire_one_of = ['vibes']", 2, "unknown signs ['vibes']"),
        ("[allowlist]\nuser_agents = ['(']", 2, "bad regular expression"),
        ("limits = 3", 1, "limits must be a [limits] section"),
        ("[escalation.sub]\nx = 1", 1, "[escalation] unknown key 'sub'"),
        ("[[allowlist.crawler]]\nuser_agent = 'X'", 1, "[allowlist] crawler must be"),
    ],
)
def test_wrong_types_and_ranges_name_the_line(text: str, line: int, message: str) -> None:
    with pytest.raises(PolicyError) as err:
        parse_policy(text, source="p.toml")
    assert str(err.value).startswith(f"p.toml:{line}: "), str(err.value)
    assert message in str(err.value)


def test_a_partial_file_overrides_the_defaults_key_by_key() -> None:
    p = parse_policy("[limits]\nrequests_per_minute = { challenge = 100 }")
    by_metric = {lim.metric: lim for lim in p.limits}
    assert (by_metric["requests_per_minute"].challenge, by_metric["requests_per_minute"].block) == (
        100,
        None,  # one limit is replaced whole
    )
    default = {lim.metric: lim for lim in POLICY.limits}
    assert by_metric["profiles_per_hour"] == default["profiles_per_hour"]  # the rest stays
    assert p.score_challenge == POLICY.score_challenge == 0.8
    assert p.new_account_limits == POLICY.new_account_limits
    assert p.groups == POLICY.groups and p.score_require_one_of == POLICY.score_require_one_of


def test_an_empty_limit_switches_a_default_off() -> None:
    p = parse_policy("[limits]\nips_per_hour = {}\n[groups]\naccounts_per_ip = {}")
    assert "ips_per_hour" not in {lim.metric for lim in p.limits}
    assert p.groups.accounts_per_ip is None and p.groups.accounts_per_subnet is not None


def test_shadow_true_is_shadow() -> None:
    assert parse_policy("shadow = true").shadow is True
    assert parse_policy("shadow = false").shadow is False


def test_the_packaged_default_is_complete_on_its_own() -> None:
    """Every key of the schema is in the default file: it documents them all."""
    from stream.core.policy_loader import SCHEMA, default_policy_text

    full = parse_policy(default_policy_text(), defaults=False)
    assert full == dataclasses.replace(POLICY, source=full.source)
    text = default_policy_text()
    for section, keys in SCHEMA.items():
        for key in keys:
            if section in ("new_account", "crawlers") and key not in ("max_age_days",):
                continue  # stricter limits: only some metrics have one
            if section == "limits" or (section == "allowlist" and key == "crawler"):
                continue
            assert f"{key} =" in text, (section, key)


def test_a_floor_whose_sign_is_left_out_is_reported_inert() -> None:
    assert POLICY.inert_settings() == []  # the packaged policy turns nothing off by mistake
    narrow = parse_policy('[score]\nrequire_one_of = ["automation_ua", "errors"]\n')
    notes = narrow.inert_settings()
    assert len(notes) == 2
    assert "regular_min_profiles_per_hour = 10 has no effect" in notes[0]
    assert "regular_pages" in notes[0]
    assert "crawler_min_profiles_per_day = 20 has no effect" in notes[1]
    said_off = parse_policy(
        '[score]\nrequire_one_of = ["automation_ua", "errors"]\n'
        "regular_min_profiles_per_hour = 0\ncrawler_min_profiles_per_day = 0\n"
    )
    assert said_off.inert_settings() == []


def test_challenge_alone_is_inert_when_every_score_may_act_without_a_sign() -> None:
    notes = parse_policy("[score]\nrequire_one_of = []\n").inert_settings()
    assert notes == [
        "[score] challenge_alone = 0.99 has no effect: require_one_of is empty, so the "
        "score acts past the gates without a sign from challenge on"
    ]
    quiet = parse_policy("[score]\nrequire_one_of = []\nchallenge_alone = 1.0\n")
    assert quiet.inert_settings() == []


def flagged_member(score: float, profiles: int = 12) -> ActorState:
    """A member of a flagged group, viewing profiles at a person's uneven pace."""
    s = profile_walk(profiles, minutes=50.0, irregular=True)
    s.group_reason, s.group_expires = "accounts_per_ip 40 > 8 (p_office)", T0 + 7200
    s.score = score
    return s


def test_a_flagged_group_challenges_a_member_on_its_score_and_a_sign_not_its_score_alone() -> None:
    ts = T0 + 3000
    busy_person = flagged_member(0.9)
    assert POLICY.member_reason(busy_person, ts) == ""  # a high score, but no sign
    assert POLICY.evaluate(busy_person, ts, Action.ALLOW).action == Action.ALLOW
    scripted = flagged_member(0.9)
    scripted.counters.automation = True
    assert POLICY.member_reason(scripted, ts) == (
        "accounts_per_ip 40 > 8 (p_office) with anomaly_score 0.900 and automation_ua"
    )
    assert POLICY.member_reason(flagged_member(0.98), ts) == ""  # sure, but not sure enough
    sure = flagged_member(0.995)  # above [groups] member_challenge_alone (0.99): no sign needed
    assert (
        POLICY.member_reason(sure, ts)
        == "accounts_per_ip 40 > 8 (p_office) with anomaly_score 0.995"
    )
    assert POLICY.member_reason(flagged_member(0.995, profiles=5), ts) == ""  # too few views
    assert POLICY.member_reason(flagged_member(0.995), T0 + 7200) == ""  # the signal expired
    anything = parse_policy("[score]\nrequire_one_of = []\n")  # the score may act alone
    assert anything.member_reason(busy_person, ts).endswith("with anomaly_score 0.900")


def test_a_member_is_held_to_the_bars_of_a_score_past_the_gates_when_they_are_higher() -> None:
    ts = T0 + 3000
    strict = parse_policy("[score]\nchallenge = 0.995\n[groups]\nmember_challenge_alone = 1.0\n")
    scripted = flagged_member(0.99)
    scripted.counters.automation = True
    assert strict.member_reason(scripted, ts) == ""  # a sign, but not above challenge
    assert POLICY.member_reason(flagged_member(0.992), ts) != ""  # above 0.99: no sign needed
    scripted.score = 0.996
    assert strict.member_reason(scripted, ts).endswith("anomaly_score 0.996 and automation_ua")
    unsigned = flagged_member(0.999)
    assert strict.member_reason(unsigned, ts) == ""  # 1.0: never without a sign
    # member_challenge_alone under challenge means challenge (as past the gates)
    loose = parse_policy("[score]\nchallenge = 0.995\n")
    assert loose.member_reason(flagged_member(0.975), ts) == ""
    assert loose.member_reason(flagged_member(0.996), ts) != ""
    assert loose.inert_settings() == [
        "[score] require_one_of has no effect past the gates: challenge_alone = 0.99 is not "
        "above challenge = 0.995, so a score past the gates acts without a sign (set "
        "challenge_alone = 1.0 for never)"
    ]
