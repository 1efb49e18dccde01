"""Signs of automation that do not depend on the model.

A user agent of an HTTP library, a headless browser or a scraping framework; and, read
from an actor's windows, regular timing, id enumeration, no sleep and many errors. The
policy may require one of these before an anomaly score alone can challenge: busy people
(recruiters, moderators) are statistically unusual too, but they sleep, click
irregularly and use browsers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stream.core.counters import ActorCounters

AUTOMATION_UA = re.compile(
    r"headless|phantomjs|selenium|puppeteer|playwright|python-requests|python-urllib|"
    r"aiohttp|httpx|scrapy|curl/|wget/|go-http-client|okhttp|java/|libwww|httpclient|"
    r"node-fetch|axios",
    re.IGNORECASE,
)


@lru_cache(maxsize=4096)
def is_automation_ua(user_agent: str) -> bool:
    """User agents of HTTP libraries, headless browsers and scraping frameworks."""
    return AUTOMATION_UA.search(user_agent) is not None


SIGNALS: dict[str, Callable[[ActorCounters], bool]] = {
    "automation_ua": lambda c: c.automation,
    "regular_timing": lambda c: c.events >= 30 and 0.0 < c.gap_cv() < 0.35,
    "enumeration": lambda c: c.seq_share > 0.5,
    "no_sleep": lambda c: c.active_hours >= 16,
    "errors": lambda c: c.requests_per_hour >= 20 and c.errors_per_hour > 0.2 * c.requests_per_hour,
}


def automation_signals(counters: ActorCounters, names: tuple[str, ...]) -> list[str]:
    """The signals among ``names`` that ``counters`` show."""
    return [n for n in names if SIGNALS[n](counters)]
