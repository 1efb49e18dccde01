import dataclasses
import random
from pathlib import Path

import pytest

from stream.core.actions import Action
from stream.core.actor_state import ActorState
from stream.core.policy import Policy, PolicyError, Verdict
from stream.core.policy_loader import load_policy, parse_policy
from stream.core.records import RequestEvent
from tests.helpers import T0, crawler

POLICY = load_policy()


def actor(
    profiles: int, minutes: float = 50.0, created: float | None = None, irregular: bool = False
) -> ActorState:
    """One profile view after the other over ``minutes``: evenly spaced, or ``irregular``
    (log-normal gaps, as a person clicks) over the same span."""
    s = ActorState()
    rng = random.Random(7)
    gaps = [rng.lognormvariate(0.0, 1.0) if irregular else 1.0 for _ in range(profiles)]
    scale = minutes * 60 / max(sum(gaps), 1e-9)
    ts = T0
    for i in range(profiles):
        ts += gaps[i] * scale if i else 0.0
        s.apply(
            RequestEvent(
                f"e{i}",
                ts,
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
    busy, quiet = actor(200, minutes=50, irregular=True), actor(10)
    for s in (busy, quiet):
        s.score = 0.9999
    # busy but browser-like (no sign of automation: irregular clicks, a browser): above
    # `challenge` the score does not act ...
    busy.score = 0.96
    assert POLICY.evaluate(busy, busy.last_ts, Action.ALLOW).action == Action.ALLOW
    # ... above `challenge_alone` it does
    busy.score = 0.9999
    v = POLICY.evaluate(busy, busy.last_ts, Action.ALLOW)
    assert v.action == Action.CHALLENGE
    assert v.reasons == ("anomaly_score 1.000 > 0.97",)
    never = parse_policy("[score]\nchallenge_alone = 1.0")
    assert never.evaluate(busy, busy.last_ts, Action.ALLOW).action == Action.ALLOW
    busy.counters.automation = True
    v = POLICY.evaluate(busy, busy.last_ts, Action.ALLOW)
    assert v.action == Action.CHALLENGE
    assert v.reasons == ("anomaly_score 1.000 > 0.8 with automation_ua",)
    # a metronome's rhythm of page views is a sign too
    metronome = actor(200, minutes=50)
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


def test_a_regular_run_of_pages_lets_a_score_act_below_the_gates() -> None:
    # 35 profiles in 20 minutes: under the gates (50 requests, 40 profiles an hour)
    metronome, person = actor(35, minutes=20), actor(35, minutes=20, irregular=True)
    for s in (metronome, person):
        s.score = 0.85
    v = POLICY.evaluate(metronome, metronome.last_ts, Action.ALLOW)
    assert v.reasons == ("anomaly_score 0.850 > 0.8 with a regular run of pages below the gates",)
    # the same volume clicked as a person clicks is not evidence enough
    assert POLICY.evaluate(person, person.last_ts, Action.ALLOW).action == Action.ALLOW
    # under `challenge`, or with the run switched off, it does not act
    metronome.score = 0.79
    assert POLICY.evaluate(metronome, metronome.last_ts, Action.ALLOW).action == Action.ALLOW
    metronome.score = 0.85
    off = parse_policy("[score]\nregular_min_profiles_per_hour = 0")
    assert off.evaluate(metronome, metronome.last_ts, Action.ALLOW).action == Action.ALLOW
    # a policy that does not take regular_pages as a sign does not take the run either
    no_sign = parse_policy("[score]\nrequire_one_of = ['automation_ua']")
    assert no_sign.evaluate(metronome, metronome.last_ts, Action.ALLOW).action == Action.ALLOW
    # fewer profile views in the hour than the run's floor
    high = parse_policy("[score]\nregular_min_profiles_per_hour = 36")
    assert high.evaluate(metronome, metronome.last_ts, Action.ALLOW).action == Action.ALLOW


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


# the score's paths alone, without the [crawlers] limits
NO_CRAWLER_LIMITS = parse_policy("[crawlers]\nprofiles_per_day = {}")


def test_a_crawler_that_reads_robots_txt_is_challenged_below_the_gates_after_a_days_floor() -> (
    None
):
    # 20 profiles at 12 an hour, robots.txt read 100 minutes ago: the default floor of 20
    policy = NO_CRAWLER_LIMITS
    reader = crawler(20)
    assert policy.score_eligible(reader) is False
    v = policy.evaluate(reader, reader.last_ts, Action.ALLOW)
    assert v.action == Action.CHALLENGE
    assert v.reasons == (
        "anomaly_score 0.900 > 0.8 with robots_txt and 20 profiles in the day below the gates",
    )
    # below the floor, under `challenge`, or with the path off: nothing
    assert policy.evaluate(crawler(19), T0 + 19 * 300.0, Action.ALLOW).action == Action.ALLOW
    reader.score = 0.8
    assert policy.evaluate(reader, reader.last_ts, Action.ALLOW).action == Action.ALLOW
    reader.score = 0.9
    off = parse_policy(
        "[score]\ncrawler_min_profiles_per_day = 0\n[crawlers]\nprofiles_per_day = {}"
    )
    assert off.evaluate(reader, reader.last_ts, Action.ALLOW).action == Action.ALLOW
    no_robots = parse_policy(
        "[score]\nrequire_one_of = ['automation_ua', 'regular_pages']\n"
        "[crawlers]\nprofiles_per_day = {}"
    )
    assert no_robots.crawler_floor == 0 and POLICY.crawler_floor == 20
    assert no_robots.evaluate(reader, reader.last_ts, Action.ALLOW).action == Action.ALLOW
    # an HTTP library's user agent alone is not enough below the gates: a platform's own
    # app may send one
    lib = crawler(20, user_agent="okhttp/4.12.0", robots=False)
    assert lib.counters.automation
    assert POLICY.evaluate(lib, lib.last_ts, Action.ALLOW).action == Action.ALLOW
    # an address of several user agents (people behind a NAT, one tool among them that
    # read robots.txt) is not taken for a crawler, by the score or the [crawlers] limits
    shared = crawler(20)
    shared.apply(
        RequestEvent("x", shared.last_ts + 1, "ip:192.0.2.9", None, None, "192.0.2.9",
                     "Mozilla/5.0 (iPhone)", "GET", "/about", 200, referrer=""),
        99,
    )  # fmt: skip
    assert POLICY.evaluate(shared, shared.last_ts, Action.ALLOW).action == Action.ALLOW


def _verdicts(policy: Policy, events: list[RequestEvent]) -> list[Action]:
    """The action ``policy`` asks for after each of ``events``, applied in order to one
    actor with a score of 0 (the [crawlers] limits need none)."""
    s, out = ActorState(), []
    for offset, ev in enumerate(events):
        s.apply(ev, offset)
        s.score = 0.0
        out.append(policy.evaluate(s, ev.ts, Action.ALLOW).action)
    return out


def _ip_request(i: int, path: str, ua: str, target: str | None = None) -> RequestEvent:
    return RequestEvent(f"e{i}", T0 + 60.0 * i, "ip:192.0.2.9", None, None, "192.0.2.9", ua,
                        "GET", path, 200, target, referrer="")  # fmt: skip


def test_a_crawler_that_shows_itself_is_challenged_from_its_first_profile() -> None:
    # robots.txt, then one profile, by an HTTP library: the packaged [crawlers] limit
    reader = crawler(1, user_agent="python-requests/2.31")
    reader.score = 0.0  # no score needed: a limit, like the new-account limits
    v = POLICY.evaluate(reader, reader.last_ts, Action.ALLOW)
    assert v == Verdict(Action.CHALLENGE, ("crawler_profiles_per_day 1 > 0",))
    # robots.txt read, no profile yet: nothing to limit
    lib = "Go-http-client/2.0"
    assert POLICY.evaluate(crawler(0, user_agent=lib), T0, Action.ALLOW).action == Action.ALLOW
    # no user agent at all
    assert _verdicts(
        POLICY, [_ip_request(0, "/robots.txt", ""), _ip_request(1, "/profiles/1", "", "p1")]
    ) == [Action.ALLOW, Action.CHALLENGE]
    # a user agent that names a crawler, without robots.txt
    for ua in (
        "Mozilla/5.0 (compatible; PeopleIndex/1.0)",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "MJ12bot/v1.4.8",
        "SiteAudit/2.0 (+https://audit.example/about)",
    ):
        named = crawler(1, user_agent=ua, robots=False)
        assert named.counters.crawler_ua, ua
        assert POLICY.evaluate(named, named.last_ts, Action.ALLOW).action == Action.CHALLENGE
    # robots.txt read more than ~4 hours of its own event time ago: no longer shown
    late = crawler(1, user_agent=lib, minutes=5 * 60.0)
    late.score = 0.0
    assert POLICY.evaluate(late, late.last_ts, Action.ALLOW).action == Action.ALLOW
    # the limit off ({}): the score's own crawler path only (20 profiles a day)
    off = NO_CRAWLER_LIMITS.evaluate(crawler(1, user_agent=lib), T0 + 300.0, Action.ALLOW)
    assert off.action == Action.ALLOW


def test_people_and_their_fetchers_are_not_taken_for_crawlers() -> None:
    # browsers, old and new, an HTTP library without robots.txt (a platform's own app may
    # send one) and link previews a person sets off (iMessage's, from the sender's own
    # address): their profile views are no crawler's
    for ua in (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Safari/537.36",
        "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0)",
        "Mozilla/5.0 (compatible; Konqueror/4.5; Linux) KHTML/4.5.4 (like Gecko)",
        "Mozilla/5.0 (Linux; Android 10; CUBOT X30) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0 Mobile Safari/537.36",
        "okhttp/4.12.0",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_1) AppleWebKit/601.2.4 (KHTML, like "
        "Gecko) Version/9.0.1 Safari/601.2.4 facebookexternalhit/1.1 Facebot Twitterbot/1.0",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
    ):
        events = [_ip_request(i, "/profiles/{id}", ua, f"p{i}") for i in range(5)]
        assert _verdicts(POLICY, events) == [Action.ALLOW] * 5, ua
    # another site's page makes a visitor's browser fetch robots.txt and profiles (<img>
    # tags, without cookies: on the visitor's address): a browser's user agent reading
    # robots.txt is left to the score, after every one of those requests
    chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"
    forged = [_ip_request(0, "/robots.txt", chrome)] + [
        _ip_request(i, "/profiles/{id}", chrome, f"p{i}") for i in range(1, 4)
    ]
    assert _verdicts(POLICY, forged) == [Action.ALLOW] * 4


def test_robots_txt_is_a_sign_past_the_gates() -> None:
    # 60 profiles an hour (past the gates), browser, irregular: a sign only from robots.txt
    fast = crawler(60, minutes=1.0, irregular=True)
    assert NO_CRAWLER_LIMITS.score_eligible(fast)
    fast.score = 0.85
    v = NO_CRAWLER_LIMITS.evaluate(fast, fast.last_ts, Action.ALLOW)
    assert v.reasons == ("anomaly_score 0.850 > 0.8 with robots_txt",)
    browser = crawler(60, minutes=1.0, robots=False, irregular=True)
    browser.score = 0.85
    assert POLICY.evaluate(browser, browser.last_ts, Action.ALLOW).action == Action.ALLOW
