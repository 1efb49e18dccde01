"""The topics the detector reads besides requests — the correlator's group signals,
operators' manual decisions and the outcomes labels — each with its record decoder and how
a partition's detector applies it (:mod:`stream.core.side_inputs`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from stream.core import side_inputs
from stream.core.control import appended_at
from stream.core.internal_records import GroupSignal
from stream.core.manual_replays import ManualReplays
from stream.core.operator_records import ManualDecision, manual_key
from stream.core.outcomes import ActorOutcome
from stream.runtime.topic_readers import control_key
from stream.settings import Settings

# topic -> (what, the record's decoder, how a partition's detector applies a batch of them)
SideTopics = dict[str, tuple[str, Callable[[Any], Any], Callable[..., Any]]]


def _decoder(decode: Callable[[bytes | None], Any], keyed: bool = True) -> Callable[[Any], Any]:
    """A record's decoder; ``keyed``: the record must be keyed by the actor it names, as
    decisions name it — else it would reach another partition than the actor's state."""

    def from_record(r: Any) -> Any:
        item = decode(r.value)
        if keyed and r.key != item.actor.encode():
            key = r.key.decode(errors="replace") if r.key is not None else None
            raise ValueError(
                f"keyed {key!r} but about {item.actor!r}: key the record by the actor as "
                "decisions name it (normalised), so that it reaches the actor's partition"
            )
        return item

    return from_record


def _manual_decoder(settings: Settings) -> Callable[[Any], Any]:
    """Manual decisions: signed with the key derived from the control key, and no copy of
    a record appended before (:class:`~stream.core.manual_replays.ManualReplays`: within
    ``control_window_s`` of when it was made, and not read before)."""
    key = control_key(settings)
    if key is None:

        def refuse(r: Any) -> Any:
            raise ValueError(
                "this worker has no SCRAPEGUARD_CONTROL_KEY: manual decisions are refused"
            )

        return refuse
    signed = _decoder(partial(ManualDecision.decode, key=manual_key(key)))
    replays = ManualReplays(settings.control_window_s, settings.max_future_skew_s)

    def from_record(r: Any) -> Any:
        m = signed(r)
        replays.check(m, appended_at(r), r.partition, r.offset)
        return m

    return from_record


def side_topics(settings: Settings) -> SideTopics:
    """The detector's side topics, in the order it subscribes to them."""
    return {
        settings.signals_topic: (
            "group_signal",
            _decoder(GroupSignal.decode, keyed=False),
            side_inputs.apply_group_signals,
        ),
        settings.manual_topic: (
            "manual_decision",
            _manual_decoder(settings),
            side_inputs.apply_manual_decisions,
        ),
        settings.outcomes_topic: (
            "outcome",
            _decoder(ActorOutcome.decode),
            side_inputs.apply_outcomes,
        ),
    }
