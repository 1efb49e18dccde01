"""Bots: scrapers of profiles of every kind, a declared crawler, browser automation.

Every label that does not start with ``human`` or ``allowlisted`` is a kind of bot. A
script's referrers follow one of three styles (none, a fixed page, the page it was on),
drawn per bot, so that no single feature gives them away.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator

from stream.harness.personas.gen import (
    BROWSERS,
    CONTACT_FIELDS,
    CRAWLER_NET,
    CRAWLER_UA,
    HEADLESS_UAS,
    SCRAPER_UAS,
    Actors,
    Browser,
    Events,
    Gen,
    Site,
    bot_referrer,
)
from stream.harness.personas.people import visitor_browser

REFERRER_STYLES = ("none", "none", "fixed", "last")


def profile_walk(
    g: Gen,
    account: str,
    times: Iterable[float],
    ip: Callable[[], str],
    ua: str,
    created: float,
    style: str,
) -> Events:
    """A script viewing a random profile at each of ``times``, from the address ``ip()``
    gives, with referrers of ``style``."""
    events: Events = []
    last = ""
    for t in times:
        last = g.view(
            events,
            account,
            t,
            ip(),
            ua,
            created,
            target=g.profile(),
            referrer=bot_referrer(g.rng, style, last),
        )
    return events


def bulk_scraper(g: Gen, i: int) -> Actors:
    """A logged-in scraper in a hurry: 4-8 requests/s, sequential ids, for 20-40 minutes."""
    r = g.rng
    account, created = f"bs{i}", g.old_account()
    ua, ip = r.choice(SCRAPER_UAS + BROWSERS[:1]), g.ip()
    style = r.choice(REFERRER_STYLES)
    rate = r.uniform(4, 8)
    t = r.uniform(g.start, max(g.start, g.end - 3000))
    stop = min(g.end, t + r.uniform(1200, 2400))
    base = r.randint(1_000_000, 40_000_000)
    events: Events = []
    n, last = 0, ""
    while t < stop:
        last = g.view(
            events,
            account,
            t,
            ip,
            ua,
            created,
            target=str(base + n),
            referrer=bot_referrer(r, style, last),
            fields=CONTACT_FIELDS,
        )
        n += 1
        t += r.uniform(0.5, 1.5) / rate
    return [(f"account:{account}", "bulk_scraper", events)]


def low_and_slow(g: Gen, i: int) -> Actors:
    """Steady, just under the hourly limit (200-280 profiles/hour), around the clock."""
    r = g.rng
    account, created, ua, ip = f"ls{i}", g.old_account(), r.choice(BROWSERS), g.ip()
    style = r.choice(REFERRER_STYLES)
    rate = r.uniform(200, 280)

    def steady() -> Iterator[float]:
        t = g.start + r.uniform(0, 600)
        while t < g.end:
            yield t
            t += 3600.0 / rate * r.uniform(0.7, 1.3)

    events = profile_walk(g, account, steady(), lambda: ip, ua, created, style)
    return [(f"account:{account}", "low_and_slow", events)]


def distributed(g: Gen, i: int, size: int = 30) -> Actors:
    """Many accounts, each under every per-account limit, rotating through one /24."""
    r = g.rng
    net = f"{r.randint(100, 199)}.{r.randint(0, 255)}.{r.randint(0, 255)}"
    pool = [f"{net}.{h}" for h in r.sample(range(2, 254), 24)]
    style = r.choice(REFERRER_STYLES)
    ua = r.choice(BROWSERS)
    out: Actors = []
    for k in range(size):
        account, created = f"ds{i}-{k}", g.old_account()
        rate = r.uniform(25, 50)
        times = g.arrivals(g.start + r.uniform(0, 1800), rate)
        events = profile_walk(g, account, times, lambda: r.choice(pool), ua, created, style)
        out.append((f"account:{account}", "distributed", events))
    return out


def new_aggressive(g: Gen, i: int) -> Actors:
    """A new account that starts viewing profiles fast (60-200 an hour) right away."""
    r = g.rng
    account, ua, ip = f"na{i}", r.choice(BROWSERS), g.ip()
    style = r.choice(REFERRER_STYLES)
    first = r.uniform(g.start, max(g.start, g.end - 7200))
    created = first - r.uniform(60, 3600)
    rate, stop = r.uniform(60, 200), min(g.end, first + r.uniform(3600, 3 * 3600))
    events = profile_walk(g, account, g.arrivals(first, rate, stop), lambda: ip, ua, created, style)
    return [(f"account:{account}", "new_aggressive", events)]


def account_farm(g: Gen, i: int, size: int = 12) -> Actors:
    """Many accounts on one IP (credential sharing / account farm), each moderate."""
    r = g.rng
    ip, ua = g.ip(), r.choice(BROWSERS)
    style = r.choice(REFERRER_STYLES)
    out: Actors = []
    for k in range(size):
        account, created = f"af{i}-{k}", g.old_account()
        rate = r.uniform(30, 60)
        times = g.arrivals(g.start + r.uniform(0, 1800), rate)
        events = profile_walk(g, account, times, lambda: ip, ua, created, style)
        out.append((f"account:{account}", "account_farm", events))
    return out


def crawler(g: Gen, i: int) -> Actors:
    """A declared search crawler from its published range (on the allowlist)."""
    r = g.rng
    ip = f"{CRAWLER_NET}.{10 + i % 200}"
    rate = r.uniform(300, 600)
    events: Events = []
    next_robots = g.start
    for t in g.arrivals(g.start + r.uniform(0, 60), rate):
        if t >= next_robots:
            events.append(
                g.event(None, t, ip, CRAWLER_UA, None, None, path="/robots.txt", referrer="")
            )
            next_robots = t + 3600
            continue
        method = "HEAD" if r.random() < 0.1 else "GET"
        doc = g.event(None, t, ip, CRAWLER_UA, g.profile(), None, referrer="", method=method)
        if g.web:
            doc["path"] = f"/profiles/{doc['target_profile_id']}"
        events.append(doc)
    return [(f"ip:{ip}", "allowlisted_crawler", events)]


def headless(g: Gen, i: int) -> Actors:
    """A headless browser with human-like jitter: 120-220 profiles/hour, around the clock."""
    r = g.rng
    account, created = f"hl{i}", g.old_account()
    ua, ip = r.choice(HEADLESS_UAS), g.ip()
    style = r.choice(REFERRER_STYLES)
    browser = Browser()
    rate = r.uniform(120, 220)
    events: Events = []
    t, last = g.start + r.uniform(0, 600), ""
    while t < g.end:
        if r.random() < 0.9:
            last = g.view(
                events,
                account,
                t,
                ip,
                ua,
                created,
                target=g.profile(),
                referrer=bot_referrer(r, style, last),
                browser=browser,
            )
        else:
            last = g.view(
                events,
                account,
                t,
                ip,
                ua,
                created,
                path="/search",
                referrer=bot_referrer(r, style, last),
                browser=browser,
            )
        t += r.lognormvariate(math.log(3600.0 / rate) - 0.3, 0.8)  # jittery, like a reader
    return [(f"account:{account}", "headless", events)]


def browser_bot(g: Gen, i: int) -> Actors:
    """Browser automation at human pace: a real browser (assets, cache, referrers) follows
    links page after page, pausing ``uniform(a, b)`` seconds on each — from one second
    (a hurried script) to half a minute — never revisits, never goes back; sessions of
    16-350 requests, a few a day."""
    r = g.rng
    account, created, ua, ip = f"bb{i}", g.old_account(), r.choice(BROWSERS), g.ip()
    low = r.uniform(1.0, 15.0)
    high = low + r.uniform(2.0, 20.0)
    events: Events = []
    t = g.start + r.uniform(0, 3600)
    while t < g.end:
        browser = visitor_browser(g)  # a fresh profile per run of the script
        last = g.view(
            events, account, t, ip, ua, created, path="/feed", referrer="", browser=browser
        )
        for _ in range(r.randint(10, 120)):
            pause = r.uniform(low, high)
            g.read(events, account, t, pause, ip, ua, last, browser)
            t += pause
            if t >= g.end:
                break
            if r.random() < 0.7:
                last = g.view(
                    events,
                    account,
                    t,
                    ip,
                    ua,
                    created,
                    target=g.profile(),
                    referrer=last,
                    browser=browser,
                )
            else:
                last = g.view(events, account, t, ip, ua, created, referrer=last, browser=browser)
        t += r.uniform(1800, 4 * 3600)
    return [(f"account:{account}", "browser_bot", events)]


def visitor_bot(g: Gen, i: int, paced: bool = False) -> Actors:
    """Browser automation on the public site without an account (a session cookie): a
    real browser (assets, cache, referrers, the site's beacons) clicks links one after
    the other and never goes back. In a hurry (``paced=False``) it stays 0.5-4 s on a
    page; ``paced`` it waits like a reader — uniformly between bounds drawn per bot, or
    log-normally around a fixed pause — and may move the mouse (more beacons)."""
    r = g.rng
    site, ua = Site(profile_share=r.choice((0.0, 0.5, 0.8, 1.0))), r.choice(BROWSERS)
    ip = g.ip() if r.random() < 0.7 else None
    sid = f"vb{i}{'p' if paced else 'f'}{r.getrandbits(48):012x}"
    browser = visitor_browser(g)
    if paced:
        low = r.uniform(3.0, 15.0)
        high = low + r.uniform(3.0, 25.0)
        median, spread = r.uniform(6.0, 25.0), r.uniform(0.15, 0.5)
        uniform = r.random() < 0.6
    else:
        low = r.uniform(0.5, 1.5)
        high = low + r.uniform(0.5, 2.5)
    events: Events = []
    t = r.uniform(g.start, max(g.start, g.end - 600))
    page, ref = "/", ""
    for n in range(r.randint(4, 120)):
        if t >= g.end:
            break
        session = None if n == 0 and ip is not None and r.random() < 0.5 else sid
        g.view(
            events,
            None,
            t,
            ip,
            ua,
            None,
            path=page,
            target=site.target(page),
            referrer=ref,
            browser=browser,
            session=session,
        )
        if paced and not uniform:
            pause = r.lognormvariate(math.log(median), spread)
        else:
            pause = r.uniform(low, high)
        g.read(events, None, t, pause, ip, ua, page, browser, sid)
        t += pause
        ref, page = page, r.choice(site.links(page))
    label = "visitor_bot_paced" if paced else "visitor_bot"
    return [(f"session:{sid}", label, events)]


def visitor_bot_paced(g: Gen, i: int) -> Actors:
    return visitor_bot(g, i, paced=True)


SLOW_CRAWLER_UAS = (
    "Mozilla/5.0 (compatible; SiteAuditBot/3.1; +https://audit.example/bot)",
    "Mozilla/5.0 (compatible; PeopleIndex/1.0)",
    "python-requests/2.31.0",
    "Go-http-client/2.0",
)


def slow_crawler(g: Gen, i: int) -> Actors:
    """A crawler of the public site from one address, without an account or a cookie: it
    reads ``robots.txt`` (most do, again every few hours), then fetches pages — public
    profiles and articles, hardly ever the same twice — one every two hours to one a
    minute, at irregular times, no assets, no referrer, a HEAD request now and then. Its user agent
    declares it, claims a browser or names an HTTP library."""
    r = g.rng
    ip = g.ip()
    ua = r.choice((*SLOW_CRAWLER_UAS, *BROWSERS))
    site = Site(profile_share=r.choice((0.5, 0.8, 1.0)))
    rate = math.exp(r.uniform(math.log(0.5), math.log(60.0)))  # pages an hour
    robots_every = r.uniform(3600.0, 6 * 3600.0) if r.random() < 0.7 else None
    events: Events = []
    next_robots = g.start if robots_every else float("inf")
    for t in g.arrivals(g.start + r.uniform(0, 3600), rate):
        if t >= next_robots and robots_every is not None:
            events.append(g.event(None, t, ip, ua, None, None, path="/robots.txt", referrer=""))
            next_robots = t + robots_every
            t += r.uniform(1.0, 30.0)
        topic = r.randrange(site.topics)
        if r.random() < 0.15:
            page = f"/topics/{topic}"
        else:
            page = site.item(topic, r.randrange(site.per_topic))[0]
        target = site.target(page)
        events.append(
            g.event(
                None,
                t,
                ip,
                ua,
                target,
                None,
                path=page,
                referrer="",
                method="HEAD" if r.random() < 0.05 else "GET",
                status=404 if r.random() < 0.03 else 200,
            )
        )
    return [(f"ip:{ip}", "slow_crawler", events)]
