"""Second model: log-scaling → River ``StandardScaler`` → ``OneClassSVM``.

A different kind of detector from the default half-space trees: a linear one-class SVM
learned online by SGD, so it separates the bulk of normal traffic from everything
else with one boundary. Registered through the ``scrapeguard.models`` entry point
group (see ``pyproject.toml``), exactly as a model in another package would be.
"""

from __future__ import annotations

from typing import Any

from river import anomaly, compose, preprocessing

from models.base import Features, Scorer
from models.calibration import CalibratedScorer, QuantileCalibrator
from models.hst import log_features
from models.registry import ModelEntry


class _Outlyingness:
    """River's ``OneClassSVM.score_one`` is the SVM decision value ``w·x - ρ``: positive
    for inliers, as in scikit-learn. Anomaly scores grow with outlyingness, so negate."""

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline

    def score_one(self, x: Features) -> float:
        return -float(self.pipeline.score_one(x))

    def learn_one(self, x: Features) -> None:
        self.pipeline.learn_one(x)


def build_ocsvm(nu: float = 0.1, calibration_window: int = 2000) -> Scorer:
    if not 0.0 < nu < 1.0:
        raise ValueError("nu must be within (0, 1)")
    detector = (
        compose.FuncTransformer(log_features)
        | preprocessing.StandardScaler()
        | anomaly.OneClassSVM(nu=nu)
    )
    return CalibratedScorer(_Outlyingness(detector), QuantileCalibrator(window=calibration_window))


OCSVM = ModelEntry(
    name="ocsvm",
    version="1",
    factory=build_ocsvm,
    defaults={"nu": 0.1, "calibration_window": 2000},
    description="log1p → StandardScaler → OneClassSVM (River), quantile-calibrated",
)
