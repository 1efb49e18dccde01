"""A logged-out scraper that drops its session cookie on every request (second review).

The actor of an event without an account is its session, so each request was a new
actor with one event, under every limit and every scoring gate, and the correlator
counted accounts per address, not sessions: 3,000 profiles in ten minutes from one
address gave 3,000 actors and no decision. Now sessions' views are reported to the
correlator apart from accounts, and the address whose new sessions (in their first 3
requests) viewed more than ``[groups] new_session_views_per_ip`` profiles in the hour —
most of its views — is challenged itself (blocked too, where the policy asks for it).
A forged signal may name one address or one IPv6 /64 only.
"""

from __future__ import annotations

from models import REGISTRY
from stream.harness.offline import OfflineRun
from tests.core.test_new_sessions import BLOCKING, IP, POLICY, rotating
from tests.helpers import T0


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
