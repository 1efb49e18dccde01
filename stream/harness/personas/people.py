"""People: browsing sessions, recruiters (some busy enough to pass every volume gate),
and an office of people behind one address. Their labels start with ``human``."""

from __future__ import annotations

from stream.harness.personas.gen import (
    BEACON_PATHS,
    BROWSERS,
    DAY,
    SEARCH_ENGINES,
    Actors,
    Browser,
    Events,
    Gen,
    Site,
    activity,
    dwell,
)


def session(
    g: Gen,
    out: Events,
    account: str,
    t: float,
    ip: str,
    ua: str,
    created: float,
    friends: list[str],
    browser: Browser,
    pages: int,
    profile_share: float = 0.45,
) -> float:
    """A person's visit: a landing page, then clicks with reading pauses, back navigation
    and revisits of friends' profiles. Returns the time after it."""
    r = g.rng
    history: list[str] = []
    landing = r.choice(("/feed", "/feed", "/search", "/messages"))
    for i in range(pages):
        if t >= g.end:
            break
        if i == 0:
            ref = r.choice(SEARCH_ENGINES) if r.random() < 0.2 else ""
            page = g.view(
                out, account, t, ip, ua, created, path=landing, referrer=ref, browser=browser
            )
        else:
            if len(history) >= 2 and r.random() < 0.25:
                history.pop()  # back: the next click comes from the page before
            ref = history[-1]
            if r.random() < profile_share:
                target = r.choice(friends) if r.random() < 0.8 else g.profile()
                status = 404 if r.random() < 0.01 else 200
                page = g.view(
                    out,
                    account,
                    t,
                    ip,
                    ua,
                    created,
                    target=target,
                    referrer=ref,
                    browser=browser,
                    status=status,
                )
            else:
                page = g.view(out, account, t, ip, ua, created, referrer=ref, browser=browser)
        history.append(page)
        pause = dwell(r)
        g.read(out, account, t, pause, ip, ua, page, browser)
        t += pause
    return t


def human(g: Gen, i: int) -> Actors:
    """Sessions at daily-rhythm times; reading pauses; mostly friends' profiles, revisits."""
    r = g.rng
    account, created, ua = f"h{i}", g.old_account(), r.choice(BROWSERS)
    ip = g.ip()
    friends = [g.profile() for _ in range(r.randint(10, 60))]
    browser = visitor_browser(g)
    events: Events = []
    t = g.start + r.uniform(0, 3600)
    while t < g.end:
        if r.random() < activity(t) * 0.6:
            if r.random() < 0.3:
                browser.cached.clear()  # a new browser session
            pages = max(1, int(r.lognormvariate(2.5, 0.7)))  # ~12 pages a visit
            t = session(g, events, account, t, ip, ua, created, friends, browser, pages)
            if r.random() < 0.1:
                ip = g.ip()  # home → mobile
        t += r.expovariate(1 / 5400.0) + 600
    return [(f"account:{account}", "human", events)]


def recruiting(
    g: Gen, account: str, ip: str, ua: str, created: float, rate: float, events: Events
) -> None:
    """Office hours of a recruiter: searches, profiles from the results, back to the list,
    meetings and lunch; ``rate`` profiles an hour while at work."""
    r = g.rng
    browser = Browser(revalidate=r.choice((0.0, 0.3)))
    day0 = g.start - g.start % DAY
    for day in range(int((g.end - day0) // DAY) + 1):
        t = day0 + day * DAY + 8 * 3600 + r.uniform(0, 3600)
        stop = day0 + day * DAY + 17 * 3600
        results = ""
        while t < min(stop, g.end):
            if t >= g.start:
                if not results or r.random() < 0.15:
                    results = f"/search?q={r.randint(1, 500)}&page={r.randint(1, 5)}"
                    g.view(
                        events,
                        account,
                        t,
                        ip,
                        ua,
                        created,
                        path=results,
                        referrer="/search",
                        browser=browser,
                    )
                else:
                    target = g.profile()
                    g.view(
                        events,
                        account,
                        t,
                        ip,
                        ua,
                        created,
                        target=target,
                        referrer=results,
                        browser=browser,
                    )
                    if r.random() < 0.1:  # a second look at someone
                        t += r.lognormvariate(2.0, 0.8)
                        g.view(
                            events,
                            account,
                            t,
                            ip,
                            ua,
                            created,
                            target=target,
                            referrer=results,
                            browser=browser,
                        )
            t += r.expovariate(rate / 3600.0) + 1.0
            if r.random() < 0.02:
                t += r.uniform(600, 2400)  # meeting, lunch


def power_user(g: Gen, i: int) -> Actors:
    """A recruiter: office hours, 60-140 distinct profiles an hour, searches in between."""
    r = g.rng
    account, created, ua, ip = f"pu{i}", g.old_account(), r.choice(BROWSERS[:3]), g.ip()
    events: Events = []
    recruiting(g, account, ip, ua, created, r.uniform(60, 140), events)
    return [(f"account:{account}", "human_power_user", events)]


def heavy_recruiter(g: Gen, i: int) -> Actors:
    """A recruiter busy enough to pass every volume gate: 150-350 profiles an hour."""
    r = g.rng
    account, created, ua, ip = f"hr{i}", g.old_account(), r.choice(BROWSERS[:3]), g.ip()
    events: Events = []
    recruiting(g, account, ip, ua, created, r.uniform(150, 350), events)
    return [(f"account:{account}", "human_heavy_recruiter", events)]


def office(g: Gen, i: int, size: int = 40) -> Actors:
    """An office of ``size`` people behind one NAT address (a few of them recruiters)."""
    r = g.rng
    ip = g.ip()
    out: Actors = []
    day0 = g.start - g.start % DAY
    for k in range(size):
        account, created, ua = f"of{i}-{k}", g.old_account(), r.choice(BROWSERS)
        events: Events = []
        if k % 8 == 0:
            recruiting(g, account, ip, ua, created, r.uniform(40, 120), events)
        else:
            friends = [g.profile() for _ in range(r.randint(10, 60))]
            browser = visitor_browser(g)
            for day in range(int((g.end - day0) // DAY) + 1):
                t = day0 + day * DAY + 8.5 * 3600 + r.uniform(0, 3600)
                stop = day0 + day * DAY + 17.5 * 3600
                while t < min(stop, g.end):
                    if t >= g.start and r.random() < 0.5:
                        pages = max(1, int(r.lognormvariate(2.0, 0.7)))
                        t = session(g, events, account, t, ip, ua, created, friends, browser, pages)
                    t += r.expovariate(1 / 2400.0) + 300
        out.append((f"account:{account}", "human_office", events))
    return out


def visit_start(g: Gen) -> float:
    """When a one-off visit starts: at daily-rhythm times within the run."""
    r = g.rng
    while True:
        t = r.uniform(g.start, max(g.start, g.end - 300))
        if r.random() < activity(t):
            return t


def visitor_browser(g: Gen) -> Browser:
    """A visitor's browser on a site whose script may post beacons."""
    r = g.rng
    return Browser(
        revalidate=r.choice((0.0, 0.0, 0.3, 1.0)),
        beacon_s=r.choice((0.0, 2.0, 5.0, 15.0)),
        beacon_path=r.choice(BEACON_PATHS),
    )


def visitor(g: Gen, i: int) -> Actors:
    """A logged-out person (a session cookie, no account) on the public site: lands on
    the home page or an article from a search engine, clicks links, reads (log-normal
    pauses), goes back, now and then types an address; one visit of 1-60 pages."""
    r = g.rng
    site, ua = Site(profile_share=r.choice((0.0, 0.5, 0.8))), r.choice(BROWSERS)
    ip = g.ip() if r.random() < 0.7 else None  # some logs carry no address
    sid = f"vs{i}x{r.getrandbits(48):012x}"
    browser = visitor_browser(g)
    events: Events = []
    t = visit_start(g)
    page = "/" if r.random() < 0.5 else site.item(r.randrange(site.topics), 0)[0]
    ref = "" if page == "/" else r.choice(SEARCH_ENGINES)
    history: list[str] = []
    reading = r.uniform(2.3, 3.2)  # log of the median pause: 10-25 s
    for n in range(max(1, min(60, int(r.lognormvariate(2.0, 1.0))))):
        if t >= g.end:
            break
        # the first request has no cookie yet on some sites: it is the address's
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
        history.append(page)
        pause = r.lognormvariate(reading, 1.0)
        g.read(events, None, t, pause, ip, ua, page, browser, sid)
        t += pause
        roll = r.random()
        if roll < 0.2 and len(history) >= 2:  # back, then a link of that page
            history.pop()
            ref = history[-1]
        elif roll < 0.27:  # typed or bookmarked
            ref = ""
        else:
            ref = page
        page = r.choice(site.links(ref)) if ref else r.choice(site.links("/"))
    # (a cookie-less first request goes to its address: an actor without a label)
    return [(f"session:{sid}", "human_visitor", events)]
