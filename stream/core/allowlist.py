"""The allowlist: actors, IP ranges, user agents and verified crawlers never acted on.

A declared crawler is verified: its user-agent pattern only counts from the crawler's
own published IP ranges (a user agent alone is trivially spoofed).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Crawler:
    """A declared crawler: user-agent pattern that only counts from its own IP ranges."""

    user_agent: re.Pattern[str]
    ip_ranges: tuple[IPNetwork, ...]


@dataclass(frozen=True)
class Allowlist:
    actors: frozenset[str] = frozenset()
    ip_ranges: tuple[IPNetwork, ...] = ()
    user_agents: re.Pattern[str] | None = None
    crawlers: tuple[Crawler, ...] = ()

    def matches(self, actor: str, ip: str | None, user_agent: str) -> bool:
        if actor in self.actors:
            return True
        if self.user_agents is not None and user_agent and self.user_agents.search(user_agent):
            return True
        if ip is None:
            return False
        if self.ip_ranges and _in_ranges(ip, self.ip_ranges):
            return True
        return any(
            c.user_agent.search(user_agent) and _in_ranges(ip, c.ip_ranges) for c in self.crawlers
        )


@lru_cache(maxsize=65536)
def _in_ranges(ip: str, ranges: tuple[IPNetwork, ...]) -> bool:
    addr = ipaddress.ip_address(ip)
    return any(addr in net for net in ranges)
