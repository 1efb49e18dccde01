"""Scraper personas and people, with ground-truth labels, generated in event time.

Each persona is a function ``(gen, i) -> [(actor, label, events)]``; :class:`Simulation`
draws a mix of them for ``--actors`` actors over ``--hours`` of event time ending at
``end_ts`` and returns the events in time order. Deterministic for a seed and an end
time. ``web=True`` makes every persona write an access log of the whole site (browsers
load assets, crawlers read ``robots.txt``) instead of the platform's request events
(:mod:`stream.harness.personas.gen`).

Labels: ``human`` and ``human_*`` are people (the negative class), ``allowlisted_*``
must never be acted on; every other label is a kind of bot.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from stream.harness.personas.gen import CRAWLER_NET, Actors, Gen
from stream.harness.personas.people import heavy_recruiter, human, office, power_user, visitor
from stream.harness.personas.scrapers import (
    account_farm,
    browser_bot,
    bulk_scraper,
    crawler,
    distributed,
    headless,
    low_and_slow,
    new_aggressive,
    slow_crawler,
    visitor_bot,
    visitor_bot_paced,
)

# how the crawler is declared on the allowlist in the stress policy
CRAWLER_ALLOWLIST = f"""
[[allowlist.crawler]]
user_agent = "ExampleSearchBot"
ip_ranges = ["{CRAWLER_NET}.0/24"]
"""


def simulated_policy_text() -> str:
    """The packaged policy with the simulated verified crawler on its allowlist: what the
    simulated traffic is judged under (``simulate --policy-out``, ``models sweep``, a
    prior's fit)."""
    from stream.core.policy_loader import default_policy_text

    return default_policy_text() + CRAWLER_ALLOWLIST


PERSONAS: dict[str, tuple[Callable[[Gen, int], Actors], int]] = {
    # name: (generator, accounts per unit)
    "human": (human, 1),
    "human_power_user": (power_user, 1),
    "human_heavy_recruiter": (heavy_recruiter, 1),
    "human_office": (office, 40),
    "bulk_scraper": (bulk_scraper, 1),
    "low_and_slow": (low_and_slow, 1),
    "distributed": (distributed, 30),
    "new_aggressive": (new_aggressive, 1),
    "account_farm": (account_farm, 12),
    "allowlisted_crawler": (crawler, 1),
    "headless": (headless, 1),
    "browser_bot": (browser_bot, 1),
    "human_visitor": (visitor, 1),
    "visitor_bot": (visitor_bot, 1),
    "visitor_bot_paced": (visitor_bot_paced, 1),
    "slow_crawler": (slow_crawler, 1),
}

DEFAULT_MIX = {
    "human": 0.52,
    "human_visitor": 0.08,
    "human_power_user": 0.04,
    "human_heavy_recruiter": 0.02,
    "human_office": 0.07,
    "bulk_scraper": 0.02,
    "low_and_slow": 0.02,
    "distributed": 0.05,
    "new_aggressive": 0.02,
    "account_farm": 0.04,
    "allowlisted_crawler": 0.01,
    "headless": 0.02,
    "browser_bot": 0.03,
    "visitor_bot": 0.01,
    "visitor_bot_paced": 0.01,
    "slow_crawler": 0.02,
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
        self,
        actors: int,
        hours: float,
        end_ts: float,
        mix: dict[str, float],
        seed: int = 1,
        web: bool = False,
    ) -> None:
        if actors < 1 or hours <= 0:
            raise ValueError("--actors must be >= 1 and --hours > 0")
        self.rng = random.Random(seed)
        self.gen = Gen(self.rng, end_ts - hours * 3600.0, end_ts, web)
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
        out = [e for _, _, events in self.actors for e in events if e["ts"] < self.gen.end]
        out.sort(key=lambda e: e["ts"])
        return out


__all__ = [
    "CRAWLER_ALLOWLIST",
    "DEFAULT_MIX",
    "PERSONAS",
    "Simulation",
    "parse_mix",
    "simulated_policy_text",
]
