"""Caught while it happens, window by window: the first-action target over several
simulated windows (seeds × end times), offline.

One window is not enough (docs/evaluation.md): the persona mix of one seed and one end
time decides how many of a label's actors draw an easy or a hard variant, so a label met
in one window is missed in the next. A sweep simulates each window
(:class:`~stream.harness.personas.Simulation`), replays it through the pipeline with the
model offline (:func:`~stream.harness.offline.evaluate_model`, no controls) and says, per
label, in how many windows the target was met and the range of the medians.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from models.registry import ModelSpec
from stream.core.policy import Policy
from stream.harness.evaluation import FIRST_ACTION_TARGET_S, LabelRow, meets_target
from stream.harness.evaluation_report import median_all

#: seeds the packaged prior was neither fitted (1, 2) nor calibrated (3) on
HELD_OUT_SEEDS = (13, 21, 34)


@dataclass(frozen=True)
class Window:
    seed: int
    end_ts: float


@dataclass(frozen=True)
class WindowResult:
    window: Window
    rows: list[LabelRow]

    def line(self) -> str:
        """The window in one line: the bot labels that met the target, the people acted on."""
        bots = [r for r in self.rows if r.kind == "bot" and r.actors]
        people = [r for r in self.rows if r.kind == "person"]
        end = datetime.fromtimestamp(self.window.end_ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return (
            f"seed {self.window.seed}, ending {end}: target met for "
            f"{sum(meets_target(r) for r in bots)} of {len(bots)} bot labels; people acted "
            f"on {sum(r.acted for r in people)} of {sum(r.actors for r in people)}"
        )


@dataclass(frozen=True)
class LabelSweep:
    """One label over every window of a sweep."""

    label: str
    kind: str  # bot | person | allowlisted
    windows: int  # windows the label had actors in
    met: int  # bots: windows whose median over all actors is within the target
    medians_s: list[float | None]  # per window, median over all (None: never)
    actors: int
    acted: int
    within_target: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "kind": self.kind,
            "windows": self.windows,
            "met": self.met if self.kind == "bot" else None,
            "first_action_median_all_s": self.medians_s,
            "actors": self.actors,
            "acted": self.acted,
            "within_target": self.within_target,
        }


def summarise(results: Iterable[WindowResult]) -> list[LabelSweep]:
    """Per label, over the windows: where the target was met, the medians, the counts."""
    rows: dict[str, list[LabelRow]] = {}
    for result in results:
        for row in result.rows:
            if row.actors:
                rows.setdefault(row.label, []).append(row)
    return [
        LabelSweep(
            label=label,
            kind=mine[0].kind,
            windows=len(mine),
            met=sum(meets_target(r) for r in mine),
            medians_s=[r.first_action_median_all_s for r in mine],
            actors=sum(r.actors for r in mine),
            acted=sum(r.acted for r in mine),
            within_target=sum(r.within_target for r in mine),
        )
        for label, mine in rows.items()
    ]


def span(medians_s: list[float | None]) -> str:
    """The range of the per-window medians, "never" ranking last."""
    order = sorted(medians_s, key=lambda s: float("inf") if s is None else s)
    lo, hi = median_all(order[0]), median_all(order[-1])
    return lo if lo == hi else f"{lo} – {hi}"


def table(sweeps: list[LabelSweep]) -> str:
    """Markdown: bots first (the target's rows), then the people and the allowlisted."""
    target = f"{FIRST_ACTION_TARGET_S / 60:g} min"
    lines = [
        f"| label | target met in (windows) | first action p50 over all, per window | "
        f"actors | acted on | acted on within {target} |",
        "|---|---|---|---|---|---|",
    ]
    order = {"bot": 0, "person": 1, "allowlisted": 2}
    for s in sorted(sweeps, key=lambda s: (order.get(s.kind, 3), s.label)):
        met = f"{s.met} of {s.windows}" if s.kind == "bot" else "-"
        lines.append(
            f"| {s.label} | {met} | {span(s.medians_s)} | {s.actors} | {s.acted} | "
            f"{s.within_target} |"
        )
    return "\n".join(lines)


def run_window(
    window: Window,
    policy: Policy,
    spec: ModelSpec,
    *,
    actors: int,
    hours: float,
    mix: dict[str, float],
) -> WindowResult:
    """Simulate one window and evaluate the model on it, offline."""
    from stream.harness.offline import evaluate_model
    from stream.harness.personas import Simulation

    sim = Simulation(actors, hours, window.end_ts, mix, window.seed)
    result = evaluate_model(policy, spec, sim.events(), sim.labels(), controls=False)
    return WindowResult(window, result.report.labels)


def sweep(
    windows: Iterable[Window],
    policy: Policy,
    spec: ModelSpec,
    *,
    actors: int,
    hours: float,
    mix: dict[str, float],
    progress: Callable[[WindowResult], None] = lambda result: None,
) -> list[WindowResult]:
    """Every window in turn; ``progress`` hears of each as it is done."""
    results = []
    for window in windows:
        result = run_window(window, policy, spec, actors=actors, hours=hours, mix=mix)
        progress(result)
        results.append(result)
    return results
