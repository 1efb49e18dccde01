"""What if: the decisions of two policies on the same recorded events, side by side.

Both runs go through :class:`~stream.harness.offline.OfflineRun` (the worker's own
pipeline, offline) with the same model, so the difference is the policy's alone.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from models import ModelSpec
from stream.core.policy import Policy
from stream.core.records import Decision
from stream.harness.offline import OfflineRun


def reason_name(reason: str) -> str:
    """``"profiles_per_hour 304 > 300"`` → ``"profiles_per_hour"`` (the rule, not the values)."""
    return reason.split(" ", 1)[0]


@dataclass
class Outcome:
    decisions: int
    by_action: Counter[str]
    by_reason: Counter[tuple[str, str]]  # (action, rule) -> decisions
    acted_on: set[str]  # actors challenged or blocked (decisions not in shadow)

    @classmethod
    def of(cls, decisions: list[Decision]) -> Outcome:
        live = [d for d in decisions if not d.shadow]
        by_reason: Counter[tuple[str, str]] = Counter()
        for d in decisions:
            for r in d.reasons:
                by_reason[(d.action, reason_name(r))] += 1
        return cls(
            len(decisions),
            Counter(d.action for d in decisions),
            by_reason,
            {d.actor for d in live if d.action in ("challenge", "block")},
        )


@dataclass
class WhatIf:
    events: int
    current: Outcome
    proposed: Outcome

    def rows(self) -> list[tuple[str, str, int, int]]:
        keys = sorted(set(self.current.by_reason) | set(self.proposed.by_reason))
        return [
            (a, r, self.current.by_reason[(a, r)], self.proposed.by_reason[(a, r)]) for a, r in keys
        ]

    def as_dict(self) -> dict[str, Any]:
        def side(o: Outcome) -> dict[str, Any]:
            return {
                "decisions": o.decisions,
                "by_action": dict(o.by_action),
                "actors_acted_on": len(o.acted_on),
            }

        return {
            "events": self.events,
            "current": side(self.current),
            "proposed": side(self.proposed),
            "by_reason": [
                {"action": a, "reason": r, "current": c, "proposed": p}
                for a, r, c, p in self.rows()
            ],
            "actors_only_current": len(self.current.acted_on - self.proposed.acted_on),
            "actors_only_proposed": len(self.proposed.acted_on - self.current.acted_on),
        }


def what_if(
    current: Policy, proposed: Policy, spec: ModelSpec, events: list[dict[str, Any]]
) -> WhatIf:
    outcomes = [Outcome.of(OfflineRun(p, spec).run(events).decisions) for p in (current, proposed)]
    return WhatIf(len(events), *outcomes)
