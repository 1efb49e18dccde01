"""Finding 4: the allowed future skew (86,400 s) equalled the day window. One event dated
~now + 23 h moved the actor's windows ahead; its later real events counted nothing and
were dead-lettered as late, and a 5,000-profile scrape preceded by one such event got no
decision. The skew is now a few minutes (``max_future_skew_s``, 300 s by default) and
an event beyond it is dead-lettered as ``ts_in_future``.
"""

from __future__ import annotations

from models import REGISTRY
from stream.core.partition_detector import PartitionDetector
from stream.core.policy_loader import load_policy
from stream.core.validation import validate
from stream.settings import Settings
from tests.helpers import T0, event, rec

NOW = T0 + 86_400


def test_one_future_dated_event_cannot_blind_an_actor() -> None:
    det = PartitionDetector(
        "requests", 0, load_policy(), REGISTRY.get("hst").build(), "hst@1", clock=lambda: NOW
    )
    blinder = rec(0, event(0, NOW + 23 * 3600, "mallory", target_profile_id="1"))
    # then a 5,000-profile scrape at 5 requests a second, ending now
    start = NOW - 1000
    scrape = [
        rec(i, event(i, start + i * 0.2, "mallory", target_profile_id=str(100_000 + i)))
        for i in range(1, 5001)
    ]
    out = det.process([blinder])
    assert [d.reason for d in out.deadletters] == ["ts_in_future"]
    decisions = []
    for i in range(0, len(scrape), 500):
        out = det.process(scrape[i : i + 500])
        decisions += out.decisions
        assert not out.deadletters
    actions = [d.action for d in decisions if d.actor == "account:mallory"]
    assert "challenge" in actions and "block" in actions
    state = det.actors.peek("account:mallory")
    assert state is not None and state.counters.events == 5000


def test_the_default_skew_is_minutes_not_a_day() -> None:
    assert Settings().max_future_skew_s <= 600
    doc = event(0, NOW + 3600)
    import orjson

    res = validate(orjson.dumps(doc), now=NOW)
    assert getattr(res, "reason", None) == "ts_in_future"
    assert not hasattr(validate(orjson.dumps(event(0, NOW + 60)), now=NOW), "reason")
