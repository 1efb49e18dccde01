"""Crawlers in the policy: the score's path below the gates for a reader of robots.txt,
and the ``[crawlers]`` limits for a crawler that shows itself (no score needed)."""

from stream.core.actions import Action
from stream.core.actor_state import ActorState
from stream.core.policy import Policy, Verdict
from stream.core.policy_loader import load_policy, parse_policy
from stream.core.records import RequestEvent
from tests.helpers import T0, crawler

POLICY = load_policy()

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
