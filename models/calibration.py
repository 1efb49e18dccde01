"""Calibration of raw anomaly scores to ``[0, 1]``.

Raw scores of River detectors live on scales that differ by detector and drift as
the model learns. :class:`QuantileCalibrator` maps a raw score to the share of
recently *learned* (believed-normal) raw scores that are strictly lower, so that a
calibrated 0.99 reads the same for every model: "more anomalous than 99 % of the
normal traffic the model has seen lately".
"""

from __future__ import annotations

import bisect
from collections import deque
from typing import Any, Protocol

from models.base import Features, Scorer


class QuantileCalibrator:
    """Empirical CDF over the last ``window`` raw scores, in ``O(log n)`` per query."""

    __slots__ = ("_fifo", "_sorted", "min_samples", "window")

    def __init__(self, window: int = 2000, min_samples: int = 50) -> None:
        if window < 1:
            raise ValueError("window must be >= 1")
        self.window = window
        self.min_samples = min_samples
        self._fifo: deque[float] = deque()
        self._sorted: list[float] = []

    def __len__(self) -> int:
        return len(self._sorted)

    def update(self, raw: float) -> None:
        self._fifo.append(raw)
        bisect.insort(self._sorted, raw)
        if len(self._fifo) > self.window:
            old = self._fifo.popleft()
            del self._sorted[bisect.bisect_left(self._sorted, old)]

    def transform(self, raw: float) -> float:
        """Share of reference scores below ``raw`` (ties count half).

        Until ``min_samples`` scores were seen the calibrator knows nothing and
        answers 0.0: an untrained model must not trigger enforcement.
        """
        n = len(self._sorted)
        if n < self.min_samples:
            return 0.0
        lo = bisect.bisect_left(self._sorted, raw)
        hi = bisect.bisect_right(self._sorted, raw)
        return (lo + 0.5 * (hi - lo)) / n

    def state(self) -> dict[str, Any]:
        return {"window": self.window, "min_samples": self.min_samples, "fifo": list(self._fifo)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> QuantileCalibrator:
        cal = cls(window=int(state["window"]), min_samples=int(state["min_samples"]))
        for raw in state["fifo"]:
            cal.update(float(raw))
        return cal


class RawDetector(Protocol):
    """A River-style detector: ``score_one`` gives an uncalibrated score."""

    def score_one(self, x: Features) -> float: ...

    def learn_one(self, x: Features) -> None: ...


class CalibratedScorer(Scorer):
    """Wraps a raw detector so that its scores are calibrated to ``[0, 1]``."""

    def __init__(self, detector: RawDetector, calibrator: QuantileCalibrator | None = None) -> None:
        self.detector = detector
        self.calibrator = calibrator or QuantileCalibrator()

    def raw_score(self, x: Features) -> float:
        return float(self.detector.score_one(x))

    def score_one(self, x: Features) -> float:
        score = self.calibrator.transform(self.raw_score(x))
        return min(1.0, max(0.0, score))

    def learn_one(self, x: Features) -> None:
        # The reference distribution is built from scores *before* learning x, the
        # same way live traffic is scored, so it is not biased towards low scores.
        self.calibrator.update(self.raw_score(x))
        self.detector.learn_one(x)
