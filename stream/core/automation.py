"""Signs of automation that do not depend on the model.

A user agent of an HTTP library, a headless browser or a scraping framework; a recent
read of ``robots.txt`` by an actor of one user agent (crawlers read it, browsers never
ask for it); and, read from an actor's windows, regular timing (of all requests, or of
page views alone), page views in a hurry, id enumeration, no sleep and many errors. The
policy may require one of these before an anomaly score can challenge: busy people
(recruiters, moderators) are statistically unusual too, but they sleep, click
irregularly, read and use browsers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Final

from stream.core import behaviour as bh

if TYPE_CHECKING:
    from stream.core.behaviour import Behaviour
    from stream.core.counters import ActorCounters

AUTOMATION_UA = re.compile(
    r"headless|phantomjs|selenium|puppeteer|playwright|python-requests|python-urllib|"
    r"aiohttp|httpx|scrapy|curl/|wget/|go-http-client|okhttp|java/|libwww|httpclient|"
    r"node-fetch|axios",
    re.IGNORECASE,
)


# a crawler that names itself: a link to its page ("+https://…"), a product token that
# ends in bot, crawler or spider before its version ("Googlebot/2.1", "MJ12bot/v1.4"),
# or the "(compatible; Name/1.0)" form, whose only browsers were Internet Explorer and
# Konqueror (both excepted)
CRAWLER_UA = re.compile(
    r"\+https?://|(?:bot|crawler|spider)/|\(compatible;(?!\s*(?:msie|konqueror))",
    re.IGNORECASE,
)
# fetchers a person sets off — a link preview when a link is shared (iMessage fetches it
# from the sender's own device and address), a read-aloud service — name themselves like
# crawlers but crawl nothing: never taken for one
PERSON_FETCHER_UA = re.compile(
    r"facebookexternalhit|facebot|twitterbot|slackbot|slack-imgproxy|linkedinbot|discordbot|"
    r"whatsapp|telegrambot|skypeuripreview|google-read-aloud|pinterestbot|redditbot|embedly|"
    r"iframely|bitlybot|vkshare|mastodon",
    re.IGNORECASE,
)
AUTOMATION_BIT, CRAWLER_BIT = 1, 2  # the user-agent flags' bits in an encoded actor


@lru_cache(maxsize=4096)
def is_automation_ua(user_agent: str) -> bool:
    """User agents of HTTP libraries, headless browsers and scraping frameworks."""
    return AUTOMATION_UA.search(user_agent) is not None


@lru_cache(maxsize=4096)
def is_crawler_ua(user_agent: str) -> bool:
    """User agents by which a crawler names itself (:data:`CRAWLER_UA`), not those of
    fetchers a person sets off (:data:`PERSON_FETCHER_UA`: link previews)."""
    return (
        CRAWLER_UA.search(user_agent) is not None
        and PERSON_FETCHER_UA.search(user_agent) is None
    )


REGULAR_CV: Final = 0.35  # below this spread of gaps (std / mean), the rhythm is a machine's
REGULAR_MIN_GAPS: Final = 30  # ... measured over at least this many gaps
# stricter, for a score acting below the evidence gates on a regular run of pages alone:
# a steady reader's log-normal pauses (sigma 0.4-0.5) come out near 0.4-0.5 on average
# and under 0.35 in stretches; a script's uniform(a, b) pause is (b - a) / (sqrt(3)(a + b))
REGULAR_RUN_CV: Final = 0.25
# a rapid run of pages (the sign rapid_pages; not in the packaged policy: without
# fetch_dest every GET that is not an asset counts as a page, and with it 30 tabs opened
# at once still look hurried: docs/evaluation.md): a session of
# RAPID_MIN_PAGES or more page views (assets, robots.txt and non-GET calls excluded; a
# session ends after behaviour.SESSION_GAP_S) whose mean gap, from its first view to its
# newest request, is within RAPID_GAP_S. Over the whole session, not the last few gaps: a
# person who opens a dozen results in tabs comes in bursts between readings, and the
# readings count. The lower bound leaves out requests made at once (a plain page of
# <img> tags elsewhere; one that spaces them meets the metronome's run as well); a
# script in a hurry waits for each page (0.5-4 s)
RAPID_GAP_S: Final = (0.3, 2.0)
RAPID_MIN_PAGES: Final = 30
# the runs of pages that let a score act below the gates (Policy.page_run), each with the
# sign it rests on: a policy takes a run when it takes its sign
PAGE_RUNS: Final = (("regular", "regular_pages"), ("rapid", "rapid_pages"))
# robots.txt read recently: its recency-weighted count (time constant behaviour.TAU_S =
# 1 h) above this lasts ~4 h of the actor's own event time after one read, longer after
# several (5 reads: ~5.5 h)
ROBOTS_RECENT: Final = 0.02
# the signs by which a crawler shows itself and that let a score act below the gates from a
# day's profiles (Policy.crawler_signs). Not automation_ua: a platform's own mobile app
# may send an HTTP library's user agent (okhttp, axios), and such a user is no crawler
CRAWLER_SIGNS: Final = ("robots_txt",)


def metronome_pages(b: Behaviour, max_cv: float) -> bool:
    """Page views at a metronome's rhythm: over ``REGULAR_MIN_GAPS`` or more gaps between
    navigations (a page's own assets excluded, sessions apart), a spread under ``max_cv``
    — a script that waits ``uniform(a, b)`` seconds per page, however human its pace. The
    sign ``regular_pages`` takes ``REGULAR_CV``; a score acting below the volume gates on
    this alone, the stricter ``REGULAR_RUN_CV`` (``Policy.page_run``)."""
    return b.s[bh.S_GAPS] >= REGULAR_MIN_GAPS and 0.0 <= b.page_gap_cv() < max_cv


def rapid_pages(b: Behaviour) -> bool:
    """A session in a hurry: ``RAPID_MIN_PAGES`` or more page views whose mean gap is
    within ``RAPID_GAP_S`` — a script clicking on as soon as a page has loaded, however
    uneven its pauses — by an actor of one user agent (or none): an address that people
    share interleaves their pages, and shows several."""
    s = b.s
    pages = s[bh.S_SESSION_PAGES]
    if pages < RAPID_MIN_PAGES or len(b.uas) > 1:
        return False
    low, high = RAPID_GAP_S
    # to the newest request of any kind: a session that went quiet (assets and beacons
    # only, while tabs are read) is no longer in a hurry
    return low <= (s[bh.S_LAST_TS] - s[bh.S_SESSION_START]) / (pages - 1.0) < high


def robots_recent(b: Behaviour) -> bool:
    """``robots.txt`` read lately (:data:`ROBOTS_RECENT`) by an actor of one user agent:
    browsers never ask for it; an address shared by people (a NAT, cookie-less visitors
    keyed by IP) shows several user agents, and one tool among them reading robots.txt
    does not make the address a crawler."""
    return robots_read(b) and len(b.uas) == 1


def robots_read(b: Behaviour) -> bool:
    """``robots.txt`` read lately (:data:`ROBOTS_RECENT`), whoever the actor is."""
    return b.c[bh.C_ROBOTS] >= ROBOTS_RECENT


def shows_crawler(c: ActorCounters, b: Behaviour) -> bool:
    """A crawler that shows itself — the policy's ``[crawlers]`` limits apply to it: an
    actor of one user agent (or none) that names a crawler (:func:`is_crawler_ua`), or
    that read ``robots.txt`` lately and is no browser (an HTTP library's or a headless
    browser's user agent, or none).

    A browser's user agent reading ``robots.txt`` is left to the score: a page on another
    site can make a visitor's browser fetch ``robots.txt`` and a profile (two ``<img>``
    tags, sent without cookies, so on the visitor's address), and the address would be
    challenged for it. Such a page cannot change the browser's user agent. An HTTP
    library's user agent alone is not enough either: a platform's own app may send one,
    but it does not read ``robots.txt``."""
    uas = len(b.uas)
    if uas > 1:
        return False
    if c.crawler_ua:
        return True
    return robots_read(b) and (c.automation or uas == 0)


SIGNALS: dict[str, Callable[[ActorCounters, Behaviour], bool]] = {
    "automation_ua": lambda c, b: c.automation,
    "regular_timing": lambda c, b: c.events >= 30 and 0.0 < c.gap_cv() < REGULAR_CV,
    "regular_pages": lambda c, b: metronome_pages(b, REGULAR_CV),
    "rapid_pages": lambda c, b: rapid_pages(b),
    "enumeration": lambda c, b: c.seq_share > 0.5,
    "no_sleep": lambda c, b: c.active_hours >= 16,
    "errors": lambda c, b: (
        c.requests_per_hour >= 20 and c.errors_per_hour > 0.2 * c.requests_per_hour
    ),
    "robots_txt": lambda c, b: robots_recent(b),
}


def automation_signals(c: ActorCounters, b: Behaviour, names: tuple[str, ...]) -> list[str]:
    """The signals among ``names`` that an actor's counters and behaviour show."""
    return [n for n in names if SIGNALS[n](c, b)]
