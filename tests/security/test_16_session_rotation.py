"""A logged-out scraper that drops its session cookie on every request (second review).

The actor of an event without an account is its session, so each request was a new
actor with one event, under every limit and every scoring gate, and the correlator
counted accounts per address, not sessions: 3,000 profiles in ten minutes from one
address gave 3,000 actors and no decision. Now sessions' views are reported to the
correlator apart from accounts, and the address whose new sessions (in their first 3
requests or 10 seconds) viewed more than ``[groups] new_session_views_per_ip`` profiles
in the hour — most of its views — is challenged itself (blocked too, where the policy asks for it).
A forged signal may name one address or one IPv6 /64 only. A cookie kept for a burst of
requests (the third review) is as new as one dropped each time.
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
    [(4, 5.0, 1), (8, 5.0, 1), (20, 5.0, 1), (50, 5.0, 1), (8, 5.0, 10), (8, 1.0, 1)],
)
def test_a_cookie_kept_for_a_burst_of_requests_is_new_all_the_same(
    keep: int, views_per_s: float, parallel: int
) -> None:
    # the last stop's rule saw a session new in its first 3 requests only, and judged that
    # at the end of a batch: a cookie kept for 4 requests or more evaded it (0 decisions
    # in each case here). A session is now new in its first 10 s of event time too.
    run = OfflineRun(POLICY, REGISTRY.get("hst").spec(), batch_size=100, now=T0 + 7200)
    res = run.run(keeping(3000, keep, views_per_s, parallel))
    about = [d for d in res.decisions if d.actor == f"ip:{IP}"]
    assert [d.action for d in about][:1] == ["challenge"]
    reason = about[0].reasons[0]
    assert reason.startswith("new_session_views_per_ip ") and " > 150 (p_" in reason
    assert about[0].ts - T0 < 180  # within the first 3 minutes of event time


def test_people_who_keep_their_cookies_are_still_left_alone() -> None:
    # 400 logged-out visitors an hour behind one NAT, reading 3 or 8 profiles 20 s apart
    for each in (3, 8):
        res = OfflineRun(POLICY, REGISTRY.get("hst").spec(), now=T0 + 7200).run(
            people(400, views_each=each)
        )
        assert res.decisions == []
