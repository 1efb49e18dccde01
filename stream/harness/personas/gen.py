"""The event generator the personas share: requests, page views with assets, arrivals.

Two kinds of traffic (``web``):

* **api** (default) — what a platform publishes under the request-event contract: the
  requests that returned personal data (profile views) and the pages people use around
  them (feed, search, messages), with referrers as route paths;
* **web** — an access log of the whole site: a browser's page view also fetches the
  page's static assets (style sheets, scripts, images, the favicon) unless they are in
  its cache; HTTP clients fetch pages only; crawlers read ``robots.txt`` first.
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


@dataclass
class Browser:
    """A browser's cache: core assets are fetched once a session, unless the person
    reloads (some people's browsers revalidate every time)."""

    revalidate: float = 0.0  # chance a cached core asset is fetched again (304)
    cached: set[str] = field(default_factory=set)


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
        ip: str,
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
        ip: str,
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
        also loads the assets it does not hold. Returns the page's path (a referrer)."""
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
        return page

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
