"""A manual decision's time was unbounded (second review).

A manual decision's `ttl_s` is capped at ten years, but it counts from the record's `ts`,
which nothing bounded: an allow dated 1e15, written to the manual-decisions topic, kept a
bot allowed for good (and, for an actor the worker had not seen, put its newest event time
out of reach, so its own events counted as too late). A block with an `until` past year
9999 made the bouncer stream's date formatting raise, so `/v1/decisions/stream` answered 500
to every bouncer whose filter took it, for as long as the entry lasted. Now a manual decision
dated before 2000 or beyond the clock's skew is skipped and counted, and a bouncer is sent
the last date there is.
"""

from __future__ import annotations

from stream.api.bouncer_stream import LAST_UNTIL, lapi_decision
from stream.core import side_inputs
from stream.core.actions import Action
from stream.core.decision_index import DecisionIndex
from stream.core.records import Decision
from tests.core.test_manual_decisions import detector, manual, views
from tests.helpers import T0

NOW = T0 + 86400  # the detectors' clock


def test_a_manual_decision_from_the_future_or_before_2000_is_skipped_and_counted() -> None:
    det = detector()
    det.process(views(10))
    out = side_inputs.apply_manual_decisions(
        det,
        [
            manual("add", "allow", 3600, 1e15, mid="far"),
            manual("add", "block", 3600, 1.0, mid="old"),
            manual("add", "allow", 3600, 1e15, actor="account:unseen", mid="new"),
        ],
    )
    assert out.decisions == [] and out.stats["skipped_manual_decision"] == 3
    state = det.actors.get("account:bot")
    assert state is not None and state.enforcement.allow_until == 0.0
    assert det.actors.get("account:unseen") is None
    # one within the clock's skew still counts
    out = side_inputs.apply_manual_decisions(det, [manual("add", "allow", 3600, NOW + 60)])
    (d,) = out.decisions
    assert d.action == "allow" and d.expires_at == NOW + 60 + 3600


def test_the_bouncer_stream_sends_an_until_past_year_9999_as_the_last_date() -> None:
    idx = DecisionIndex()
    d = Decision("ab" * 16, "ip:203.0.113.9", "block", ["r"], 0.0, "m", 1e12, NOW + 1e12, NOW)
    idx.add(d)
    (entry,) = list(idx.active(NOW))
    assert entry.action == Action.BLOCK
    rec = lapi_decision(entry, NOW)
    assert rec["until"] == LAST_UNTIL and rec["type"] == "ban"
