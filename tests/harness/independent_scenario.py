"""A labelled scenario written apart from the personas (``stream/harness/personas``), from
the words of the detection issue only: an office of 40 people behind one NAT address,
120 people on addresses of their own, 12 heavy human recruiters, bulk harvesters,
low-and-slow scrapers, a farm of 20 accounts on five addresses of one /24 (under the group
thresholds) and one of 24 accounts on two addresses that pauses as people do (over them).

It shares no code with the simulator the prior is fitted on, and its people browse as the
personas' do not: from profile to profile by the platform's own links ("people also
viewed"), with log-normal reading times and a browser's assets. What the model learnt of
the personas is checked here on traffic it never saw (``test_independent_scenario.py``,
docs/evaluation.md).
"""

from __future__ import annotations

import math
import random
import zlib
from typing import Any

T0 = 1795680000.0  # 2026-11-26 08:00 UTC: a working day
SITE = "https://social.example"
BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/127.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/127.0.0.0 Safari/537.36 Edg/127.0.0.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:129.0) Gecko/20100101 Firefox/129.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15",
)
ASSETS = ("/static/app.js", "/static/app.css", "/static/vendor.js")


class Scenario:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.events: list[dict[str, Any]] = []
        self.labels: dict[str, str] = {}

    def event(self, ts: float, account: str, ip: str, ua: str, path: str, **kw: Any) -> None:
        self.events.append(
            {
                "event_id": f"ind-{len(self.events)}",
                "ts": round(ts, 3),
                "account_id": account,
                "ip": ip,
                "user_agent": ua,
                "method": "GET",
                "path": path,
                "status": 200,
                "target_profile_id": kw.get("target"),
                "referrer": kw.get("referrer", ""),
                "fields": kw.get("fields"),
                "account_created_ts": T0 - 86400 * (200 + zlib.crc32(account.encode()) % 1800),
            }
        )

    def profile(self, ts: float, account: str, ip: str, ua: str, referrer: str = "") -> str:
        pid = str(self.rng.randrange(10**8))
        fields = ["name", "headline", "photo"]
        self.event(ts, account, ip, ua, f"/in/{pid}", target=pid, referrer=referrer, fields=fields)
        return f"/in/{pid}"

    # -- people ---------------------------------------------------------------------------
    def session(
        self, account: str, ip: str, ua: str, start: float, minutes: float, per_hour: float
    ) -> None:
        """A person's visit: the feed, then searches, profiles (often one after the other
        by the platform's links) and other pages, each with some of its assets."""
        r = self.rng
        ts, page = start, "/feed"
        self.event(ts, account, ip, ua, page)
        self.assets(ts, account, ip, ua, page, r.randint(0, 5))
        while ts < start + minutes * 60:
            ts += r.lognormvariate(math.log(3600 / max(per_hour, 1.0) / 1.6), 0.9)
            came_from, roll = SITE + page, r.random()
            if roll < 0.55:
                page = self.profile(ts, account, ip, ua, came_from)
            elif roll < 0.8:
                query = r.choice(("engineer", "nurse", "sales", "design"))
                page = f"/search?q={query}&p={r.randint(1, 5)}"
                self.event(ts, account, ip, ua, page, referrer=came_from)
            else:
                page = r.choice(
                    ("/feed", "/messages", "/notifications", f"/jobs/{r.randrange(9999)}")
                )
                self.event(ts, account, ip, ua, page, referrer=came_from)
            self.assets(ts, account, ip, ua, page, r.choice((0, 0, 1, 2, 4)))

    def assets(self, ts: float, account: str, ip: str, ua: str, page: str, k: int) -> None:
        for i in range(k):
            path = self.rng.choice((*ASSETS, f"/img/a/{self.rng.randrange(10**6)}.jpg"))
            self.event(ts + 0.05 + 0.03 * i, account, ip, ua, path, referrer=SITE + page)

    def workday(self, account: str, ip: str, ua: str, per_hour: float, sessions: int) -> None:
        for _ in range(sessions):
            start = T0 + self.rng.uniform(0.5, 9.5) * 3600
            self.session(account, ip, ua, start, self.rng.uniform(5, 45), per_hour)

    # -- scrapers -------------------------------------------------------------------------
    def bulk(self, i: int) -> None:
        account, r = f"bulk{i}", self.rng
        ua = "python-requests/2.32.3" if i % 2 else BROWSERS[0]
        ts, base = T0 + r.uniform(0, 6) * 3600, r.randrange(10**7)
        for k in range(r.randint(1500, 3000)):
            ts += r.uniform(0.8, 2.5)
            pid = str(base + k) if i < 3 else str(r.randrange(10**8))  # half enumerate ids
            fields = ["name", "headline", "email", "phone"]
            self.event(
                ts, account, f"45.{i}.{k % 3}.9", ua, f"/in/{pid}", target=pid, fields=fields
            )

    def low_and_slow(self, i: int) -> None:
        account, r = f"slow{i}", self.rng
        ts, ua, ip = T0 + r.uniform(0, 3600), r.choice(BROWSERS), f"81.{i}.7.{r.randint(2, 250)}"
        while ts < T0 + 10 * 3600:
            ts += r.uniform(40, 90)
            self.profile(ts, account, ip, ua)

    def paced_farm(self, i: int) -> None:
        """A member of a farm of 24 accounts on two addresses that pauses as people do
        (log-normal, 40-80 profiles an hour): over the group thresholds, with no sign of
        automation of its own — what the group path is for."""
        account, r = f"pfarm{i}", self.rng
        ts, ua, ip = T0 + r.uniform(0, 1800), r.choice(BROWSERS), f"198.18.0.{1 + i % 2}"
        per_hour = r.uniform(40, 80)
        while ts < T0 + 6 * 3600:
            ts += r.lognormvariate(math.log(3600 / per_hour / 1.6), 0.9)
            self.profile(ts, account, ip, ua, f"{SITE}/search?q=x")

    def farm(self, i: int) -> None:
        account, r = f"farm{i}", self.rng
        ts, ua, ip = T0 + r.uniform(0, 3) * 3600, r.choice(BROWSERS), f"203.0.113.{10 + i % 5}"
        for _ in range(r.randint(300, 600)):
            ts += r.uniform(10, 30)
            self.profile(ts, account, ip, ua, f"{SITE}/search?q=x")


def scenario(seed: int) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The events (in event-time order) and ``{actor: label}`` of one seed."""
    s, r = Scenario(seed), random.Random(seed + 1)
    for i in range(40):
        s.labels[f"account:off{i}"] = "human_office"
        s.workday(
            f"off{i}",
            "198.51.100.23",
            r.choice(BROWSERS),
            r.choice((15, 30, 60, 90)),
            r.randint(3, 7),
        )
    for i in range(120):
        s.labels[f"account:usr{i}"] = "human"
        ip = f"100.{64 + i // 250}.{i % 250}.{r.randint(1, 254)}"
        s.workday(f"usr{i}", ip, r.choice(BROWSERS), r.choice((10, 20, 40)), r.randint(1, 4))
    for i in range(12):
        s.labels[f"account:rec{i}"] = "human_recruiter"
        ip, ua = f"172.20.{i}.{r.randint(2, 250)}", r.choice(BROWSERS)
        for block in range(r.randint(2, 3)):
            start = T0 + (block * 3 + r.uniform(0, 1)) * 3600
            s.session(f"rec{i}", ip, ua, start, r.uniform(60, 120), r.uniform(150, 250))
    scrapers = (
        (6, "bulk", "bulk", s.bulk),
        (10, "slow", "low_and_slow", s.low_and_slow),
        (20, "farm", "account_farm", s.farm),
        (24, "pfarm", "paced_farm", s.paced_farm),
    )
    for count, account, label, make in scrapers:  # ``make(i)`` writes account ``{account}{i}``
        for i in range(count):
            s.labels[f"account:{account}{i}"] = label
            make(i)
    s.events.sort(key=lambda e: e["ts"])
    return s.events, s.labels
