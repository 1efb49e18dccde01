"""How pages are reached: referrers matched to the pages the actor itself fetched."""

from stream.core.behaviour import (
    C_BACK,
    C_FOLLOW,
    C_VIEW_OFFSITE,
    C_VIEW_REF,
    Behaviour,
)
from stream.core.records import RequestEvent
from stream.core.request_kind import referrer_path
from tests.helpers import T0


def page(ts: float, path: str, referrer: str) -> RequestEvent:
    return RequestEvent(
        f"p{ts}", ts, "account:a", "a", None, "10.0.0.1", "Mozilla/5.0", "GET", path, 200,
        referrer=referrer,
    )  # fmt: skip


def view(ts: float, target: str, referrer: str) -> RequestEvent:
    return RequestEvent(
        f"v{ts}", ts, "account:a", "a", None, "10.0.0.1", "Mozilla/5.0", "GET",
        "/profiles/{id}", 200, target, referrer=referrer,
    )  # fmt: skip


def offsite_share(b: Behaviour) -> float:
    return b.c[C_VIEW_OFFSITE] / b.c[C_VIEW_REF]


def test_a_referrer_keeps_its_query_and_drops_host_and_fragment() -> None:
    assert referrer_path("https://example.org/search?q=ada&page=2#top") == "/search?q=ada&page=2"
    assert referrer_path("/search?q=ada#x") == "/search?q=ada"
    assert referrer_path("https://example.org") == "/"


def test_views_from_a_results_page_the_actor_fetched_are_on_site() -> None:
    b = Behaviour()
    b.apply(page(T0, "/search?q=ada&page=2", "/search"))
    for i in range(5):  # relative and absolute referrers name the same page
        ref = "/search?q=ada&page=2" if i % 2 else "https://example.org/search?q=ada&page=2"
        b.apply(view(T0 + 10 + 20 * i, f"p{i}", ref))
    assert offsite_share(b) == 0.0


def test_a_relative_referrer_to_a_page_never_fetched_counts_as_off_site() -> None:
    b = Behaviour()  # a script that sends "/search" and never searched
    for i in range(5):
        b.apply(view(T0 + 20 * i, f"p{i}", "/search"))
    assert offsite_share(b) == 1.0


def test_a_long_list_of_results_stays_seen_while_it_is_followed() -> None:
    b = Behaviour()  # 40 profiles opened from one list: more than the recent-pages ring
    b.apply(page(T0, "/search", ""))
    for i in range(40):
        b.apply(view(T0 + 10 + 15 * i, f"p{i}", "https://example.org/search"))
    assert offsite_share(b) == 0.0


def test_a_referrer_with_a_query_matches_a_page_logged_without_one() -> None:
    b = Behaviour()  # an access log's path drops the query; the browser's referrer keeps it
    b.apply(page(T0, "/search", ""))
    for i in range(3):
        b.apply(view(T0 + 10 + 20 * i, f"p{i}", "https://example.org/search?q=ada"))
    assert offsite_share(b) == 0.0
    assert b.c[C_BACK] > 0 or b.c[C_FOLLOW] > 0


def test_recent_pages_keep_the_pages_in_use_and_forget_the_rest() -> None:
    b = Behaviour()
    b.apply(page(T0, "/feed", ""))
    b.apply(page(T0 + 5, "/groups", ""))
    for i in range(20):  # the feed is used again and again; /groups is not
        b.apply(view(T0 + 10 + 10 * i, f"p{i}", "/feed"))
    b.apply(view(T0 + 300, "q1", "/feed"))
    assert b.c[C_VIEW_OFFSITE] == 0.0  # every view came from the feed, still "seen"
    b.apply(view(T0 + 310, "q2", "/groups"))  # 21 pages later: forgotten
    assert b.c[C_VIEW_OFFSITE] > 0.0
