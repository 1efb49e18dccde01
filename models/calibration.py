"""Calibration of raw scores to ``[0, 1]``, and when a model may speak at all.

Raw scores of River detectors live on scales that differ by detector and drift as the
model learns. :class:`QuantileCalibrator` maps a raw score to the share of reference
raw scores of *believed-normal* traffic that are strictly lower, so that a calibrated
0.99 reads the same for every model: "more unusual than 99 % of the normal traffic the
model has learned lately".

:class:`CalibratedScorer` keeps that reference honest:

* **warm-up** — no score until the detector has learned ``warm_after`` vectors and the
  calibrator holds ``min_samples`` reference scores (a half-space forest answers 0 for
  everything through its first window; calibrating on those zeros would map every later
  score to ~1);
* **drift** — for a detector that moves with every vector (an online SVM), the reference
  scores are recomputed from the last learned vectors every ``rescore_every`` learns,
  with the detector as it is now, so that it is compared with itself, not with its
  past. A detector that learns in windows (half-space trees) keeps the scores taken
  *before* each vector was learned: out of sample, as live traffic is scored.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Iterable
from typing import Any, Protocol

from models.base import Features
from models.state import Allowlist


class QuantileCalibrator:
    """Empirical CDF over up to ``window`` reference raw scores, ``O(log n)`` per query."""

    __slots__ = ("_fifo", "_sorted", "min_samples", "window")

    def __init__(self, window: int = 500, min_samples: int = 50) -> None:
        if window < 1:
            raise ValueError("window must be >= 1")
        self.window = window
        self.min_samples = min(min_samples, window)
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

    def reset(self, raws: Iterable[float]) -> None:
        """Replace the reference with ``raws`` (the newest last)."""
        self._fifo = deque(list(raws)[-self.window :])
        self._sorted = sorted(self._fifo)

    @property
    def ready(self) -> bool:
        return len(self._sorted) >= self.min_samples

    def transform(self, raw: float) -> float:
        """Share of reference scores below ``raw`` (ties count half); 0 before ``ready``."""
        n = len(self._sorted)
        if n < self.min_samples or n == 0:
            return 0.0
        lo = bisect.bisect_left(self._sorted, raw)
        hi = bisect.bisect_right(self._sorted, raw)
        return (lo + 0.5 * (hi - lo)) / n

    def state(self) -> dict[str, Any]:
        return {"window": self.window, "min_samples": self.min_samples, "fifo": list(self._fifo)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> QuantileCalibrator:
        cal = cls(window=int(state["window"]), min_samples=int(state["min_samples"]))
        cal.reset(float(raw) for raw in state["fifo"])
        return cal


class RawDetector(Protocol):
    """A River-style detector: ``score_one`` gives an uncalibrated score."""

    def score_one(self, x: Features) -> float: ...

    def learn_one(self, x: Features) -> None: ...


class CalibratedScorer:
    """A raw detector with warm-up and a drift-following quantile calibration."""

    def __init__(
        self,
        detector: RawDetector,
        calibrator: QuantileCalibrator | None = None,
        warm_after: int = 0,
        rescore_every: int | None = None,
    ) -> None:
        self.detector = detector
        self.calibrator = calibrator if calibrator is not None else QuantileCalibrator()
        self.warm_after = warm_after
        self.rescore_every = rescore_every
        self.reference: deque[Features] = deque(
            maxlen=self.calibrator.window if rescore_every else 0
        )
        self.learned = 0

    @property
    def warm(self) -> bool:
        return self.learned >= self.warm_after and self.calibrator.ready

    def raw_score(self, x: Features) -> float:
        return float(self.detector.score_one(x))

    def score_one(self, x: Features) -> float | None:
        if not self.warm:
            return None
        return min(1.0, max(0.0, self.calibrator.transform(self.raw_score(x))))

    def learn_one(self, x: Features) -> None:
        if self.learned >= self.warm_after:
            # the reference is built from scores *before* learning x, the way live
            # traffic is scored, so it is not biased towards low scores
            self.calibrator.update(self.raw_score(x))
        self.detector.learn_one(x)
        self.learned += 1
        every = self.rescore_every
        if every:
            self.reference.append(x)
            if self.learned >= self.warm_after and self.learned % every == 0:
                self.calibrator.reset(self.raw_score(v) for v in self.reference)


#: the classes a calibrated model's snapshot holds besides its detector's
CALIBRATED_STATE = Allowlist.of(CalibratedScorer, QuantileCalibrator)
