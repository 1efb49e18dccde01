"""Signs of automation read from an actor's windows."""

import random
from collections.abc import Iterator

from stream.core.actor_state import ActorState
from stream.core.automation import (
    RAPID_MIN_PAGES,
    REGULAR_RUN_CV,
    SIGNALS,
    metronome_pages,
    rapid_pages,
)
from stream.core.records import RequestEvent
from tests.helpers import T0


def views(pauses: list[float], uas: tuple[str, ...] = ("Mozilla/5.0",)) -> Iterator[ActorState]:
    """One actor viewing a profile after each pause (with ``uas`` in turn): its state after
    every view."""
    s, t = ActorState(), T0
    for i, pause in enumerate(pauses):
        t += pause
        view = RequestEvent(
            f"e{i}", t, "account:a", "a", None, "10.0.0.1", uas[i % len(uas)], "GET",
            "/profiles/{id}", 200, f"p{i}",
        )  # fmt: skip
        s.apply(view, i)
        yield s


def browse(pauses: list[float]) -> ActorState:
    *_, last = views(pauses)
    return last


def ever_regular_run(pauses: list[float]) -> bool:
    """Whether the run held at any point of the browsing (the policy looks at each view)."""
    return any(metronome_pages(s.behaviour, REGULAR_RUN_CV) for s in views(pauses))


def test_a_scripts_uniform_pause_is_a_regular_run() -> None:
    r = random.Random(1)
    script = browse([r.uniform(10.0, 14.0) for _ in range(40)])
    assert metronome_pages(script.behaviour, REGULAR_RUN_CV)
    assert SIGNALS["regular_pages"](script.counters, script.behaviour)


def test_a_steady_reader_is_never_a_regular_run() -> None:
    # log-normal pauses with sigma 0.5 (a spread of ~0.53): far steadier than people's
    # reading (sigma ~1), and still never taken for a metronome over 60 views
    for seed in range(50):
        r = random.Random(seed)
        assert not ever_regular_run([10.0 * r.lognormvariate(0.0, 0.5) for _ in range(60)])


def test_too_few_gaps_are_not_a_run() -> None:
    script = browse([12.0] * 25)
    assert not metronome_pages(script.behaviour, REGULAR_RUN_CV)


def test_a_script_in_a_hurry_is_rapid_however_uneven_its_pauses() -> None:
    r = random.Random(2)
    pauses = [r.uniform(0.5, 2.5) for _ in range(40)]  # spread ~0.38
    script = browse(pauses)
    assert rapid_pages(script.behaviour)
    assert SIGNALS["rapid_pages"](script.counters, script.behaviour)
    # 39 gaps: enough for the metronome's run, which these pauses are too uneven for
    assert not metronome_pages(script.behaviour, REGULAR_RUN_CV)
    # one view fewer than a run's pages is not yet one
    assert not rapid_pages(browse(pauses[: RAPID_MIN_PAGES - 1]).behaviour)
    assert rapid_pages(browse(pauses[:RAPID_MIN_PAGES]).behaviour)


def test_people_reading_and_bursts_of_tabs_between_readings_are_not_rapid() -> None:
    # a quick reader's log-normal pauses around 5 s, over 100 views
    for seed in range(20):
        r = random.Random(seed)
        states = views([5.0 * r.lognormvariate(0.0, 1.0) for _ in range(100)])
        assert not any(rapid_pages(s.behaviour) for s in states)
    # reading, then 25 results opened in tabs a second apart, read, and 25 more
    r = random.Random(3)
    reading = [20.0 * r.lognormvariate(0.0, 0.5) for _ in range(10)]
    pauses = reading + [1.0] * 25 + [60.0] * 5 + [1.0] * 25
    assert not any(rapid_pages(s.behaviour) for s in views(pauses))


def test_a_hurried_session_that_goes_quiet_is_no_longer_rapid() -> None:
    # 40 quick page views, then only assets and beacons while the pages are read
    s = browse([1.0] * 40)
    assert rapid_pages(s.behaviour)
    t = s.behaviour.newest_ts()
    for i in range(40):
        t += 60.0
        s.apply(
            RequestEvent(
                f"a{i}", t, "account:a", "a", None, "10.0.0.1", "Mozilla/5.0", "GET",
                "/static/app.js", 200,
            ),
            100 + i,
        )  # fmt: skip
    assert not rapid_pages(s.behaviour)


def test_a_burst_within_a_moment_is_not_rapid() -> None:
    # profile URLs embedded as images in a page elsewhere: fetched at once
    assert not any(rapid_pages(s.behaviour) for s in views([0.01] * 60))


def test_an_address_shared_by_several_user_agents_is_not_rapid() -> None:
    shared = ("Mozilla/5.0 (Windows)", "Mozilla/5.0 (Macintosh)")
    *_, s = views([1.0] * (RAPID_MIN_PAGES + 10), shared)
    assert not rapid_pages(s.behaviour)
    assert rapid_pages(browse([1.0] * (RAPID_MIN_PAGES + 10)).behaviour)  # one user agent


def test_robots_txt_is_a_sign_for_about_four_hours_after_one_read_by_one_user_agent() -> None:
    s, t = ActorState(), T0
    s.apply(
        RequestEvent("r", t, "ip:192.0.2.9", None, None, "192.0.2.9", "Mozilla/5.0", "GET",
                     "/robots.txt", 200),
        0,
    )  # fmt: skip
    robots = SIGNALS["robots_txt"]
    assert robots(s.counters, s.behaviour)
    for i, hours in enumerate((1.0, 3.5, 4.0)):
        s.apply(
            RequestEvent(f"e{i}", t + hours * 3600, "ip:192.0.2.9", None, None, "192.0.2.9",
                         "Mozilla/5.0", "GET", "/about", 200),
            i + 1,
        )  # fmt: skip
        assert robots(s.counters, s.behaviour) is (hours < 3.9)
    # read again, then a second user agent on the same actor: an address people share
    s.apply(
        RequestEvent("r2", t + 5 * 3600, "ip:192.0.2.9", None, None, "192.0.2.9",
                     "Mozilla/5.0", "GET", "/robots.txt", 200),
        10,
    )  # fmt: skip
    assert robots(s.counters, s.behaviour)
    s.apply(
        RequestEvent("p", t + 5 * 3600 + 60, "ip:192.0.2.9", None, None, "192.0.2.9",
                     "Mozilla/5.0 (iPhone)", "GET", "/about", 200),
        11,
    )  # fmt: skip
    assert not robots(s.counters, s.behaviour)


def single_page_app(dest: tuple[str, str] | None, seed: int) -> Iterator[ActorState]:
    """A reader of a single-page app: a view about every 4 s, each followed by three GETs
    of JSON. ``dest``: the Sec-Fetch-Dest of the views and of the GETs, or None when the
    producer does not send it. The state after every request."""
    r, s, t, i = random.Random(seed), ActorState(), T0, 0
    page_dest, call_dest = dest or (None, None)
    for n in range(60):
        t += 4.0 * r.lognormvariate(0.0, 0.5)
        requests = [(0.0, f"/feed/{n}", page_dest)]
        requests += [(0.05 * k, f"/api/items?page={n}&part={k}", call_dest) for k in (1, 2, 3)]
        for offset, path, fetch_dest in requests:
            i += 1
            ev = RequestEvent(
                f"e{i}", t + offset, "account:a", "a", None, "10.0.0.1", "Mozilla/5.0", "GET",
                path, 200, fetch_dest=fetch_dest,
            )  # fmt: skip
            s.apply(ev, i)
            yield s


def test_a_single_page_apps_calls_are_no_pages_when_the_browser_says_so() -> None:
    # without Sec-Fetch-Dest every GET is a page: four a view, a reader looks hurried
    assert all(any(rapid_pages(s.behaviour) for s in single_page_app(None, k)) for k in range(5))
    for k in range(5):
        marked = single_page_app(("document", "empty"), k)
        assert not any(rapid_pages(s.behaviour) for s in marked)
    # a script in a hurry sends no header (or a browser's "document"): as rapid as before;
    # and one that calls its profile views "empty" or "image" shows them all the same
    for dest, target in (("", None), ("document", None), ("empty", "p"), ("image", "p")):
        s = ActorState()
        for i in range(40):
            ev = RequestEvent(
                f"e{i}", T0 + i, "account:a", "a", None, "10.0.0.1", "Mozilla/5.0", "GET",
                f"/feed/{i}", 200, target and f"{target}{i}", fetch_dest=dest,
            )  # fmt: skip
            s.apply(ev, i)
        assert rapid_pages(s.behaviour), dest
