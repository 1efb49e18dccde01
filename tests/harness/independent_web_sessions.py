"""Labelled web sessions on a small content site, written apart from the simulator's web
mode (``stream/harness/personas``) from published descriptions of a public web-bot
dataset only (Iliou et al., "Detection of advanced web bots by combining web logs with
mouse behavioural biometrics", Digital Threats 2021): people browsing a project's site,
and bots that drive a real browser (a browser's user agent, its assets, its cache, its
referrers) through the same site — *moderate* bots that click from page to page without
reading, and *advanced* bots that pause between clicks as a reader does. Sessions of
16 to a few hundred requests. The log is written in that dataset's layout (Apache's
``%h %l [%t] "%r" %>s %b "%{Referer}i" <session> "%{User-Agent}i"``, every address
``-``), so it goes through ``replay``'s own parser, as a real log would.

It shares no code with the personas: what the model learnt of them is checked here on
sessions it never saw (``test_independent_web_sessions.py``, docs/evaluation.md). It is
this project's writing too — a check of generalisation, not a measurement on the
dataset.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime

HOST = "https://project.example"
T0 = 1795680000.0  # 2026-11-26 08:00 UTC
BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/127.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:129.0) Gecko/20100101 Firefox/129.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15",
)
SEARCH = ("https://www.google.com/", "https://www.bing.com/", "https://duckduckgo.com/")
STYLE = ("/css/main.css", "/css/theme.css", "/js/jquery.min.js", "/js/site.js", "/js/menu.js")
NAV = ("/", "/about", "/news", "/publications", "/partners", "/contact")
BACK = {"human": 0.25, "bot": 0.0}  # how often a click starts from a page seen before


class Site:
    """~80 pages: a menu on every page, sections of items linking to each other."""

    def __init__(self, rng: random.Random) -> None:
        items = [f"/news/{i}" for i in range(30)] + [f"/publications/{i}" for i in range(25)]
        items += [f"/events/{i}" for i in range(12)] + [f"/partners/{i}" for i in range(8)]
        self.pages = list(NAV) + items + ["/privacy", "/terms"]
        self.links: dict[str, list[str]] = {}
        self.images: dict[str, list[str]] = {}
        for page in self.pages:
            section = page.split("/")[1] or "home"
            near = [p for p in items if p.startswith(f"/{section}/")] or items
            links = [*NAV, "/privacy", "/terms"]
            links += rng.sample(near, min(len(near), rng.randint(3, 8)))
            links += rng.sample(items, rng.randint(1, 3))
            self.links[page] = sorted(set(links) - {page})
            slug = page.strip("/").replace("/", "-") or "home"
            self.images[page] = ["/img/logo.png"] + [
                f"/img/{slug}-{k}.jpg" for k in range(rng.randint(1, 6))
            ]


class WebSessions:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.site = Site(random.Random(seed * 7 + 1))
        self.lines: list[tuple[float, str]] = []
        self.labels: dict[str, str] = {}

    def hit(
        self, ts: float, sid: str, ua: str, path: str, referrer: str, status: int = 200
    ) -> None:
        stamp = datetime.fromtimestamp(ts, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
        size = self.rng.randint(300, 90000) if status == 200 else 0
        ref = referrer or "-"
        line = f'- - [{stamp}] "GET {path} HTTP/1.1" {status} {size} "{ref}" {sid} "{ua}"'
        self.lines.append((ts, line))

    def page(self, ts: float, sid: str, ua: str, path: str, referrer: str, cache: set[str]) -> None:
        """A page as a browser loads it: the HTML, then what it has not cached. The first
        request of a session has no session id yet (``-``: the cookie is set by its answer)."""
        self.hit(ts, sid if cache else "-", ua, path, referrer)
        t = ts + self.rng.uniform(0.05, 0.4)
        for asset in (*STYLE, *self.site.images[path]):
            if asset in cache:
                continue
            cache.add(asset)
            self.hit(t, sid, ua, asset, HOST + path)
            t += self.rng.uniform(0.01, 0.25)
        if "/favicon.ico" not in cache:
            cache.add("/favicon.ico")
            self.hit(t, sid, ua, "/favicon.ico", "", 404)

    # -- people ---------------------------------------------------------------------------
    def person(self, sid: str, start: float) -> None:
        """A reader: in from a search or a link to some page, reads (log-normal), goes on by
        the page's links, the menu, or back to a page seen (from the cache: no request,
        then on from there), and leaves."""
        r = self.rng
        ua = r.choice(BROWSERS)
        cache: set[str] = set()
        roll = r.random()
        path = "/" if roll < 0.4 else r.choice(self.site.pages[6:])
        ref = r.choice(SEARCH) if roll >= 0.4 or r.random() < 0.5 else ""
        seen = [path]
        ts = start
        self.page(ts, sid, ua, path, ref, cache)
        for _ in range(r.randint(2, 25)):
            ts += r.lognormvariate(math.log(30.0), 1.1)
            if r.random() < BACK["human"] and len(seen) > 1:
                path = r.choice(seen[:-1])  # back: shown from the cache
                ts += r.uniform(1, 5)
            nxt = r.choice(self.site.links[path][:6] if r.random() < 0.3 else self.site.links[path])
            if r.random() < 0.04:
                ts += r.uniform(300, 1800)  # a pause: another tab, a call
            self.page(ts, sid, ua, nxt, HOST + path, cache)
            seen.append(nxt)
            path = nxt

    # -- bots -----------------------------------------------------------------------------
    def bot(self, sid: str, start: float, advanced: bool) -> None:
        """A browser driven by a script: opens the site's address, then clicks a link of
        the page at random — at once (moderate) or after a reader's pause (advanced)."""
        r = self.rng
        ua = r.choice(BROWSERS)
        cache: set[str] = set()
        path, ts = "/", start
        seen = [path]
        self.page(ts, sid, ua, path, "", cache)
        for _ in range(r.randint(10, 45)):
            if r.random() < BACK["bot"] and len(seen) > 1:
                path = r.choice(seen[:-1])
            if advanced:
                ts += r.uniform(3.0, 40.0) if r.random() < 0.8 else r.uniform(40.0, 120.0)
            else:
                ts += r.uniform(1.0, 6.0)
            nxt = r.choice(self.site.links[path])
            self.page(ts, sid, ua, nxt, HOST + path, cache)
            seen.append(nxt)
            path = nxt

    def build(self, people: int, moderate: int, advanced: int) -> None:
        r = self.rng
        kinds = ["human"] * people + ["moderate_bot"] * moderate + ["advanced_bot"] * advanced
        r.shuffle(kinds)
        for i, kind in enumerate(kinds):
            sid = f"s{i:04d}{r.randrange(16**6):06x}"
            start = T0 + r.uniform(0, 10 * 3600)
            if kind == "human":
                self.person(sid, start)
            else:
                self.bot(sid, start, advanced=kind == "advanced_bot")
            self.labels[sid] = kind


def log_lines(
    seed: int, people: int = 120, moderate: int = 40, advanced: int = 40
) -> tuple[list[str], dict[str, str]]:
    """The log's lines in time order, and each session id's label (``human``,
    ``moderate_bot``, ``advanced_bot``)."""
    w = WebSessions(seed)
    w.build(people, moderate, advanced)
    w.lines.sort(key=lambda x: x[0])
    return [line for _, line in w.lines], w.labels
