"""A logged-out scraper that drops its session cookie on every request (second review).

The actor of an event without an account is its session, so each request was a new
actor with one event, under every limit and every scoring gate, and the correlator
counted accounts per address, not sessions: 3,000 profiles in ten minutes from one
address gave 3,000 actors and no decision. Now sessions' views are reported to the
correlator apart from accounts, and the address whose new sessions (in their first 3
requests) viewed more than ``[groups] new_session_views_per_ip`` profiles in the hour —
most of its views — is challenged itself (blocked too, where the policy asks for it).
A forged signal may name one address or one IPv6 /64 only. A session's first views are
judged view by view (third review), so a cookie kept for up to 6 requests is caught too.
"""

from __future__ import annotations

from typing import Any

import pytest

from models import REGISTRY
from stream.harness.offline import OfflineRun
from tests.core.test_new_sessions import BLOCKING, IP, POLICY, people, rotating
from tests.helpers import T0, event


def test_3000_profiles_from_one_address_with_a_new_session_each_are_acted_on() -> None:
    docs = rotating(3000, step_s=0.2)  # ten minutes
    for policy, actions in ((POLICY, ["challenge"]), (BLOCKING, ["challenge", "block"])):
        # batches of 100 events (20 s), as a worker reading as they come would see them
        run = OfflineRun(policy, REGISTRY.get("hst").spec(), batch_size=100, now=T0 + 7200)
        res = run.run(docs)
        about = [d for d in res.decisions if d.actor == f"ip:{IP}"]
        assert [d.action for d in about] == actions
        assert about[0].reasons[0].startswith("new_session_views_per_ip 151 > 150 (p_")
        assert IP not in " ".join(r for d in about for r in d.reasons)  # by pseudonym
        assert {d.origin for d in about} == {"group"}
        # caught while it happens: within the first minute of event time
        assert about[0].ts - T0 < 60 and about[-1].ts - T0 < 180
        assert all(d.actor == f"ip:{IP}" for d in res.decisions)  # no session is acted on
    assert about[1].reasons[0].startswith("new_session_views_per_ip 601 > 600 (")


def keeping(n: int, keep: int, views_per_s: float, parallel: int = 1) -> list[Any]:
    """``n`` profile views from one address, each cookie kept for ``keep`` views,
    ``parallel`` sessions at a time taking turns."""
    docs, made = [], parallel
    slots = [[f"k{j}", 0] for j in range(parallel)]
    for i in range(n):
        slot = slots[i % parallel]
        doc = event(i, T0 + i / views_per_s, None, session_id=str(slot[0]), ip=IP)
        doc["target_profile_id"] = str(50_000 + i)
        docs.append(doc)
        slot[1] = int(slot[1]) + 1
        if slot[1] >= keep:
            slots[i % parallel] = [f"k{made}", 0]
            made += 1
    return docs


@pytest.mark.parametrize(
    ("keep", "views_per_s", "parallel"),
    [(4, 5.0, 1), (6, 5.0, 1), (4, 5.0, 10), (6, 1.0, 1), (5, 0.5, 4)],
)
def test_a_cookie_kept_for_up_to_6_requests_is_new_all_the_same(
    keep: int, views_per_s: float, parallel: int
) -> None:
    # a session's first 3 views are fresh, judged view by view: a cookie kept for up to 6
    # requests leaves most of the address's views fresh. Judged at the end of a batch (the
    # last version), a session that made all its requests in one batch had no fresh view:
    # 0 decisions in each case here
    run = OfflineRun(POLICY, REGISTRY.get("hst").spec(), batch_size=100, now=T0 + 7200)
    res = run.run(keeping(3000, keep, views_per_s, parallel))
    about = [d for d in res.decisions if d.actor == f"ip:{IP}"]
    assert [d.action for d in about][:1] == ["challenge"]
    reason = about[0].reasons[0]
    assert reason.startswith("new_session_views_per_ip ") and " > 150 (p_" in reason
    assert about[0].ts - T0 < 3600 / views_per_s * 0.2  # within the first fifth of the run


def tabs(visitors: int, views_each: int, gap_s: float, tail: int = 0) -> list[Any]:
    """Logged-out people landing on a search page (the page and its assets), then
    opening ``views_each`` profiles ``gap_s`` apart (in tabs), then reading ``tail``
    more a minute apart."""
    docs: list[Any] = []
    for v in range(visitors):
        t, sid = T0 + v * 3600.0 / visitors, f"t{v}"
        for a, path in enumerate(("/search", "/static/a.js", "/static/b.css", "/static/c.js")):
            docs.append(event(len(docs), t + 0.1 * a, None, session_id=sid, ip=IP, path=path))
        stamps = [t + 1 + gap_s * j for j in range(views_each)]
        stamps += [stamps[-1] + 60.0 * (k + 1) for k in range(tail)]
        for j, ts in enumerate(stamps):
            doc = event(len(docs), ts, None, session_id=sid, ip=IP)
            doc["target_profile_id"] = str(80_000 + v * 100 + j)
            docs.append(doc)
    return sorted(docs, key=lambda d: d["ts"])


def test_people_opening_profiles_in_tabs_are_left_alone_and_cannot_be_tipped_over() -> None:
    # a rule by age (a session's first 10 s), tried in this round, counted every view of
    # these people as new and challenged each address (third review); by requests, a
    # visitor who landed on a page has made its first requests before its first profile
    offline = OfflineRun(POLICY, REGISTRY.get("hst").spec(), now=T0 + 7200)
    for visitors, each, gap_s in ((35, 5, 1.0), (60, 3, 2.0), (80, 2, 3.0), (400, 8, 1.0)):
        assert offline.run(tabs(visitors, each, gap_s)).decisions == []
    # one cookie's burst of 110 views among 100 such people an hour does not tip the
    # address over: 3 of its views are new
    people_ = tabs(100, 2, 1.0, tail=3)
    burst = [
        event(10**6 + i, T0 + 1800 + i * 0.08, None, session_id="burst", ip=IP)
        | {"target_profile_id": str(90_000 + i)}
        for i in range(110)
    ]
    assert (
        OfflineRun(POLICY, REGISTRY.get("hst").spec(), now=T0 + 7200)
        .run(sorted(people_ + burst, key=lambda d: d["ts"]))
        .decisions
        == []
    )


def test_people_who_keep_their_cookies_are_still_left_alone() -> None:
    # 400 logged-out visitors an hour behind one NAT, reading 3 profiles 20 s apart
    res = OfflineRun(POLICY, REGISTRY.get("hst").spec(), now=T0 + 7200).run(
        people(400, views_each=3)
    )
    assert res.decisions == []
