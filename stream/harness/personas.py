"""Scraper personas and people, with ground-truth labels, generated in event time.

Each persona is a small function ``(rng, start, hours, n) -> [(actor, label, events)]``;
:class:`Simulation` draws a mix of them for ``--actors`` actors over ``--hours`` and
returns the events in time order. Deterministic for a given seed.

Labels: ``human`` and ``human_*`` are people (the negative class), ``allowlisted_*``
must never be acted on; every other label is a kind of bot.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
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
DAY = 86400.0

# how the crawler is declared on the allowlist in the stress policy
CRAWLER_ALLOWLIST = f"""
[[allowlist.crawler]]
user_agent = "ExampleSearchBot"
ip_ranges = ["{CRAWLER_NET}.0/24"]
"""

Actors = list[tuple[str, str, list[dict[str, Any]]]]


@dataclass
class _Gen:
    rng: random.Random
    start: float
    end: float
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
    ) -> dict[str, Any]:
        self.seq[0] += 1
        return {
            "event_id": f"sim-{self.seq[0]}",
            "ts": round(ts, 3),
            "account_id": account,
            "session_id": session,
            "ip": ip,
            "user_agent": ua,
            "method": "GET",
            "path": path or ("/profiles/{id}" if target else self.rng.choice(OTHER_PATHS)),
            "status": status,
            "target_profile_id": target,
            "account_created_ts": created,
            "fields": (fields or PROFILE_FIELDS) if target else None,
        }

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


def _activity(ts: float) -> float:
    """Share of people online at this UTC hour (a daily rhythm peaking in the evening)."""
    hour = (ts % DAY) / 3600.0
    return 0.15 + 0.85 * (0.5 + 0.5 * math.cos((hour - 20.0) / 24.0 * 2 * math.pi)) ** 2


def human(g: _Gen, i: int) -> Actors:
    """Sessions at daily-rhythm times; reading pauses; mostly friends' profiles, revisits."""
    r = g.rng
    account, created, ua = f"h{i}", g.old_account(), r.choice(BROWSERS)
    ip = g.ip()
    friends = [g.profile() for _ in range(r.randint(10, 60))]
    events = []
    t = g.start + r.uniform(0, 3600)
    while t < g.end:
        if r.random() < _activity(t) * 0.6:
            s = t
            for _ in range(int(r.lognormvariate(2.5, 0.7))):  # ~12 requests a session
                if s >= g.end:
                    break
                view = r.random() < 0.45
                target = (r.choice(friends) if r.random() < 0.8 else g.profile()) if view else None
                status = 404 if r.random() < 0.01 else 200
                events.append(g.event(account, s, ip, ua, target, created, status=status))
                s += r.lognormvariate(3.0, 1.0)  # ~20 s median between clicks, long tail
            if r.random() < 0.1:
                ip = g.ip()  # home → mobile
        t += r.expovariate(1 / 5400.0) + 600
    return [(f"account:{account}", "human", events)]


def power_user(g: _Gen, i: int) -> Actors:
    """A recruiter: office hours, 60-140 distinct profiles an hour, searches in between."""
    r = g.rng
    account, created, ua, ip = f"pu{i}", g.old_account(), r.choice(BROWSERS[:3]), g.ip()
    events = []
    rate = r.uniform(60, 140)
    day0 = g.start - g.start % DAY
    for day in range(int((g.end - day0) // DAY) + 1):
        t, stop = day0 + day * DAY + 8 * 3600 + r.uniform(0, 3600), day0 + day * DAY + 17 * 3600
        while t < min(stop, g.end):
            if t >= g.start:
                if r.random() < 0.2:
                    events.append(g.event(account, t, ip, ua, None, created, path="/search"))
                else:
                    events.append(g.event(account, t, ip, ua, g.profile(), created))
            t += r.expovariate(rate / 3600.0) + 1.0
            if r.random() < 0.02:
                t += r.uniform(600, 2400)  # meeting, lunch
    return [(f"account:{account}", "human_power_user", events)]


def bulk_scraper(g: _Gen, i: int) -> Actors:
    """A logged-in scraper in a hurry: 4-8 requests/s, sequential ids, for 20-40 minutes."""
    r = g.rng
    account, created = f"bs{i}", g.old_account()
    ua, ip = r.choice(SCRAPER_UAS + BROWSERS[:1]), g.ip()
    rate = r.uniform(4, 8)
    t = r.uniform(g.start, max(g.start, g.end - 3000))
    stop = min(g.end, t + r.uniform(1200, 2400))
    base = r.randint(1_000_000, 40_000_000)
    events = []
    n = 0
    while t < stop:
        events.append(g.event(account, t, ip, ua, str(base + n), created, fields=CONTACT_FIELDS))
        n += 1
        t += r.uniform(0.5, 1.5) / rate
    return [(f"account:{account}", "bulk_scraper", events)]


def low_and_slow(g: _Gen, i: int) -> Actors:
    """Steady, just under the hourly limit (200-280 profiles/hour), around the clock."""
    r = g.rng
    account, created, ua, ip = f"ls{i}", g.old_account(), r.choice(BROWSERS), g.ip()
    rate = r.uniform(200, 280)
    events = []
    t = g.start + r.uniform(0, 600)
    while t < g.end:
        events.append(g.event(account, t, ip, ua, g.profile(), created))
        t += 3600.0 / rate * r.uniform(0.7, 1.3)
    return [(f"account:{account}", "low_and_slow", events)]


def distributed(g: _Gen, i: int, size: int = 30) -> Actors:
    """Many accounts, each under every per-account limit, rotating through one /24."""
    r = g.rng
    net = f"{r.randint(100, 199)}.{r.randint(0, 255)}.{r.randint(0, 255)}"
    pool = [f"{net}.{h}" for h in r.sample(range(2, 254), 24)]
    out: Actors = []
    for k in range(size):
        account, created, ua = f"ds{i}-{k}", g.old_account(), r.choice(BROWSERS)
        rate = r.uniform(25, 50)
        events = []
        for t in g.arrivals(g.start + r.uniform(0, 1800), rate):
            events.append(g.event(account, t, r.choice(pool), ua, g.profile(), created))
        out.append((f"account:{account}", "distributed", events))
    return out


def new_aggressive(g: _Gen, i: int) -> Actors:
    """A new account that starts viewing profiles fast (60-200 an hour) right away."""
    r = g.rng
    account, ua, ip = f"na{i}", r.choice(BROWSERS), g.ip()
    first = r.uniform(g.start, max(g.start, g.end - 7200))
    created = first - r.uniform(60, 3600)
    rate, stop = r.uniform(60, 200), min(g.end, first + r.uniform(3600, 3 * 3600))
    events = []
    for t in g.arrivals(first, rate, stop):
        events.append(g.event(account, t, ip, ua, g.profile(), created))
    return [(f"account:{account}", "new_aggressive", events)]


def account_farm(g: _Gen, i: int, size: int = 12) -> Actors:
    """Many accounts on one IP (credential sharing / account farm), each moderate."""
    r = g.rng
    ip, ua = g.ip(), r.choice(BROWSERS)
    out: Actors = []
    for k in range(size):
        account, created = f"af{i}-{k}", g.old_account()
        rate = r.uniform(30, 60)
        events = []
        for t in g.arrivals(g.start + r.uniform(0, 1800), rate):
            events.append(g.event(account, t, ip, ua, g.profile(), created))
        out.append((f"account:{account}", "account_farm", events))
    return out


def crawler(g: _Gen, i: int) -> Actors:
    """A declared search crawler from its published range (on the allowlist)."""
    r = g.rng
    ip = f"{CRAWLER_NET}.{10 + i % 200}"
    rate = r.uniform(300, 600)
    events = []
    for t in g.arrivals(g.start + r.uniform(0, 60), rate):
        events.append(g.event(None, t, ip, CRAWLER_UA, g.profile(), None))
    return [(f"ip:{ip}", "allowlisted_crawler", events)]


def headless(g: _Gen, i: int) -> Actors:
    """A headless browser with human-like jitter: 120-220 profiles/hour, around the clock."""
    r = g.rng
    account, created = f"hl{i}", g.old_account()
    ua, ip = r.choice(HEADLESS_UAS), g.ip()
    rate = r.uniform(120, 220)
    events = []
    t = g.start + r.uniform(0, 600)
    while t < g.end:
        view = r.random() < 0.9
        events.append(g.event(account, t, ip, ua, g.profile() if view else None, created))
        t += r.lognormvariate(math.log(3600.0 / rate) - 0.3, 0.8)  # jittery, like a reader
    return [(f"account:{account}", "headless", events)]


PERSONAS: dict[str, tuple[Callable[[_Gen, int], Actors], int]] = {
    # name: (generator, accounts per unit)
    "human": (human, 1),
    "human_power_user": (power_user, 1),
    "bulk_scraper": (bulk_scraper, 1),
    "low_and_slow": (low_and_slow, 1),
    "distributed": (distributed, 30),
    "new_aggressive": (new_aggressive, 1),
    "account_farm": (account_farm, 12),
    "allowlisted_crawler": (crawler, 1),
    "headless": (headless, 1),
}

DEFAULT_MIX = {
    "human": 0.78,
    "human_power_user": 0.05,
    "bulk_scraper": 0.02,
    "low_and_slow": 0.02,
    "distributed": 0.05,
    "new_aggressive": 0.02,
    "account_farm": 0.03,
    "allowlisted_crawler": 0.01,
    "headless": 0.02,
}


def parse_mix(text: str | None) -> dict[str, float]:
    """``human=0.9,bulk_scraper=0.1`` → shares (normalised); None → the default mix."""
    if not text:
        return dict(DEFAULT_MIX)
    mix: dict[str, float] = {}
    for part in text.split(","):
        name, sep, share = part.partition("=")
        name = name.strip()
        if not sep or name not in PERSONAS:
            raise ValueError(f"--mix entries are persona=share; personas: {', '.join(PERSONAS)}")
        try:
            mix[name] = float(share)
        except ValueError:
            raise ValueError(f"--mix share for {name!r} is not a number: {share!r}") from None
        if mix[name] < 0:
            raise ValueError(f"--mix share for {name!r} is negative")
    total = sum(mix.values())
    if total <= 0:
        raise ValueError("--mix shares add up to zero")
    return {k: v / total for k, v in mix.items()}


class Simulation:
    """A labelled persona mix over ``hours`` of event time ending at ``end_ts``."""

    def __init__(
        self, actors: int, hours: float, end_ts: float, mix: dict[str, float], seed: int = 1
    ) -> None:
        if actors < 1 or hours <= 0:
            raise ValueError("--actors must be >= 1 and --hours > 0")
        self.rng = random.Random(seed)
        self.gen = _Gen(self.rng, end_ts - hours * 3600.0, end_ts)
        self.actors: Actors = []
        for name, share in mix.items():
            fn, size = PERSONAS[name]
            units = round(actors * share / size)
            if share > 0 and units == 0:
                units = 1
            for i in range(units):
                self.actors.extend(fn(self.gen, i))

    def labels(self) -> dict[str, str]:
        return {actor: label for actor, label, _ in self.actors}

    def events(self) -> list[dict[str, Any]]:
        out = [e for _, _, events in self.actors for e in events]
        out.sort(key=lambda e: e["ts"])
        return out
