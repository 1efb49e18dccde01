"""The event generator the personas share: requests, page views with assets, arrivals.

Two kinds of traffic (``web``):

* **api** (default) — what a platform publishes under the request-event contract: the
  requests that returned personal data (profile views) and the pages people use around
  them (feed, search, messages), with referrers as route paths;
* **web** — an access log of the whole site: a browser's page view also fetches the
  page's static assets (style sheets, scripts, images, the favicon) unless they are in
  its cache, and, while the page is open, the page's script may post beacons (analytics,
  real-user monitoring, mouse telemetry) every few seconds — people's browsers and
  automated browsers alike; HTTP clients fetch pages only; crawlers read ``robots.txt``.

Logged-out visitors browse the public part of the site (:class:`Site`): topic pages,
articles and public profiles, linked to each other.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
)
SCRAPER_UAS = (
    "python-requests/2.32.3",
    "Scrapy/2.11 (+https://scrapy.org)",
    "curl/8.8.0",
    "Go-http-client/1.1",
)
HEADLESS_UAS = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/126.0.0.0 Safari/537.36",
    *BROWSERS[:2],  # stealth mode: a headless browser that claims to be Chrome or Safari
)
CRAWLER_UA = "Mozilla/5.0 (compatible; ExampleSearchBot/2.1; +https://search.example/bot)"
CRAWLER_NET = "192.0.2"  # TEST-NET-1: the declared crawler's published range
OTHER_PATHS = ("/feed", "/messages", "/notifications", "/search", "/jobs", "/settings")
PROFILE_FIELDS = ["name", "headline", "location", "photo"]
CONTACT_FIELDS = ["name", "email", "phone"]
CORE_ASSETS = ("/static/app.css", "/static/app.js", "/static/vendor.js", "/favicon.ico")
SEARCH_ENGINES = ("https://www.google.com/", "https://www.bing.com/", "https://duckduckgo.com/")
DAY = 86400.0

Events = list[dict[str, Any]]
Actors = list[tuple[str, str, Events]]


BEACON_PATHS = ("/beacon", "/api/collect", "/rum", "/storage/store_events.php")


@dataclass
class Browser:
    """A browser's cache: core assets are fetched once a session, unless the person
    reloads (some people's browsers revalidate every time); and the site's beacon script,
    when it has one."""

    revalidate: float = 0.0  # chance a cached core asset is fetched again (304)
    cached: set[str] = field(default_factory=set)
    beacon_s: float = 0.0  # a beacon every ~beacon_s while a page is open (0: none)
    beacon_path: str = BEACON_PATHS[0]


@dataclass
class Site:
    """The public part of the site: topic pages listing articles and public profiles.

    Every page links to its topic, its neighbours in the topic and the home page; the
    home page links to every topic."""

    topics: int = 12
    per_topic: int = 15
    profile_share: float = 0.5  # items that are public profiles (the rest articles)

    def item(self, topic: int, k: int) -> tuple[str, str | None]:
        """Path and profile id of item ``k`` of ``topic``."""
        n = topic * self.per_topic + k
        if (n * 2654435761) % 1000 < self.profile_share * 1000:
            pid = str(90_000_000 + n)
            return f"/profiles/{pid}", pid
        return f"/topics/{topic}/articles/{k}", None

    def links(self, page: str) -> list[str]:
        if page == "/":
            return [f"/topics/{t}" for t in range(self.topics)]
        topic = self.topic_of(page)
        items = [self.item(topic, k)[0] for k in range(self.per_topic)]
        if page.startswith("/topics/") and page.count("/") == 2:
            return [*items, "/"]
        i = items.index(page) if page in items else 0
        near = [items[(i + d) % len(items)] for d in (-2, -1, 1, 2, 3)]
        return [*near, f"/topics/{topic}", "/"]

    def topic_of(self, page: str) -> int:
        if page.startswith("/topics/"):
            return int(page.split("/")[2])
        if page.startswith("/profiles/"):
            return ((int(page.rsplit("/", 1)[1]) - 90_000_000) // self.per_topic) % self.topics
        return 0

    def target(self, page: str) -> str | None:
        return page.rsplit("/", 1)[1] if page.startswith("/profiles/") else None


@dataclass
class Gen:
    rng: random.Random
    start: float
    end: float
    web: bool = False
    seq: list[int] = field(default_factory=lambda: [0])

    def event(
        self,
        account: str | None,
        ts: float,
        ip: str | None,
        ua: str,
        target: str | None,
        created: float | None,
        *,
        status: int = 200,
        session: str | None = None,
        fields: list[str] | None = None,
        path: str | None = None,
        referrer: str | None = None,
        method: str = "GET",
    ) -> dict[str, Any]:
        self.seq[0] += 1
        doc: dict[str, Any] = {
            "event_id": f"sim-{self.seq[0]}",
            "ts": round(ts, 3),
            "account_id": account,
            "session_id": session,
            "ip": ip,
            "user_agent": ua,
            "method": method,
            "path": path or ("/profiles/{id}" if target else self.rng.choice(OTHER_PATHS)),
            "status": status,
            "target_profile_id": target,
            "account_created_ts": created,
            "fields": (fields or PROFILE_FIELDS) if target else None,
        }
        if referrer is not None:
            doc["referrer"] = referrer
        return doc

    def view(
        self,
        out: Events,
        account: str | None,
        ts: float,
        ip: str | None,
        ua: str,
        created: float | None,
        *,
        target: str | None = None,
        path: str | None = None,
        referrer: str = "",
        browser: Browser | None = None,
        fields: list[str] | None = None,
        status: int = 200,
        session: str | None = None,
    ) -> str:
        """One page view (a page, or a profile when ``target``); in web traffic a browser
        also loads the assets it does not hold. Returns the page's path as the next
        referrer names it (the profile's own address, not the route template)."""
        page = path or ("/profiles/{id}" if target else self.rng.choice(OTHER_PATHS))
        if self.web and target:
            page = f"/profiles/{target}"
        out.append(
            self.event(
                account,
                ts,
                ip,
                ua,
                target,
                created,
                path=page,
                referrer=referrer,
                fields=fields,
                status=status,
                session=session,
            )
        )
        if self.web and browser is not None:
            r = self.rng
            t = ts + r.uniform(0.05, 0.4)
            for asset in CORE_ASSETS:
                if asset in browser.cached and r.random() >= browser.revalidate:
                    continue
                status_a = 304 if asset in browser.cached else 200
                browser.cached.add(asset)
                out.append(
                    self.event(
                        account,
                        t,
                        ip,
                        ua,
                        None,
                        created,
                        path=asset,
                        referrer=page,
                        status=status_a,
                        session=session,
                    )
                )
                t += r.uniform(0.01, 0.2)
            for _ in range(r.randint(0, 3)):  # the page's own images
                out.append(
                    self.event(
                        account,
                        t,
                        ip,
                        ua,
                        None,
                        created,
                        path=f"/static/img/{r.randint(1, 5000)}.jpg",
                        referrer=page,
                        session=session,
                    )
                )
                t += r.uniform(0.01, 0.2)
        return page.replace("{id}", target) if target else page

    def read(
        self,
        out: Events,
        account: str | None,
        t: float,
        dur_s: float,
        ip: str | None,
        ua: str,
        page: str,
        browser: Browser | None,
        session: str | None = None,
    ) -> None:
        """The beacons a page's script posts while it is open for ``dur_s`` (web only)."""
        if not self.web or browser is None or browser.beacon_s <= 0:
            return
        r = self.rng
        end = t + dur_s
        t += r.uniform(0.3, 1.0) * browser.beacon_s
        while t < end - 0.5:
            out.append(
                self.event(
                    account,
                    t,
                    ip,
                    ua,
                    None,
                    None,
                    path=browser.beacon_path,
                    referrer=page,
                    method="POST",
                    session=session,
                )
            )
            t += browser.beacon_s * r.uniform(0.8, 1.25)
        out.append(  # the last one as the page is left
            self.event(
                account,
                end - r.uniform(0.05, 0.4),
                ip,
                ua,
                None,
                None,
                path=browser.beacon_path,
                referrer=page,
                method="POST",
                session=session,
            )
        )

    def ip(self, a: int | None = None) -> str:
        r = self.rng
        return (
            f"{a or r.randint(11, 197)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"
        )

    def profile(self) -> str:
        return str(self.rng.randint(1, 50_000_000))

    def arrivals(self, t: float, rate_per_h: float, stop: float | None = None) -> Iterator[float]:
        """Poisson arrival times from ``t`` until ``stop`` (default: the end of the run)."""
        stop = self.end if stop is None else stop
        while t < stop:
            yield t
            t += self.rng.expovariate(rate_per_h / 3600.0)

    def old_account(self) -> float:
        return self.start - self.rng.uniform(60, 2000) * DAY


def activity(ts: float) -> float:
    """Share of people online at this UTC hour (a daily rhythm peaking in the evening)."""
    hour = (ts % DAY) / 3600.0
    return 0.15 + 0.85 * (0.5 + 0.5 * math.cos((hour - 20.0) / 24.0 * 2 * math.pi)) ** 2


def dwell(r: random.Random) -> float:
    """How long a person reads a page: log-normal, median ~20 s, a long tail."""
    return r.lognormvariate(3.0, 1.0)


def bot_referrer(r: random.Random, style: str, last: str) -> str:
    """What a script sends as referrer: nothing, a fixed page, or the page it was on."""
    if style == "none":
        return ""
    if style == "fixed":
        return "/search"
    return last
