"""Another novelty model: the shared transform → River ``StandardScaler`` → ``OneClassSVM``.

A different kind of detector from the half-space trees: a linear one-class SVM learned
online by SGD. A linear one-class SVM separates the data from the *origin*, so features
are standardised and then mapped through ``exp(-|z| / 2)``: typical traffic lands near 1
on every axis, anything unusual in any direction moves towards the origin, where the
boundary puts it outside (scaled features centred on 0 would put the origin in the middle
of normal traffic, and outliers on the far side would look like inliers). Registered
through the ``scrapeguard.models`` entry point group (see ``pyproject.toml``), exactly
as a model in another package would be.
"""

from __future__ import annotations

import math
from typing import Any

from river import anomaly, compose, optim, preprocessing
from river.utils import VectorDict

from models.base import Features
from models.calibration import CALIBRATED_STATE, CalibratedScorer, QuantileCalibrator
from models.registry import ModelEntry
from models.state import Allowlist
from models.transform import transform


def closeness(x: Features) -> Features:
    """Standardised distance from typical, mapped to ``(0, 1]`` (1 = exactly typical)."""
    return {k: math.exp(-abs(v) / 2.0) for k, v in x.items()}


class _Outlyingness:
    """River's ``OneClassSVM.score_one`` is the SVM decision value ``w·x - ρ``: positive
    for inliers, as in scikit-learn. Anomaly scores grow with outlyingness, so negate."""

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline

    def score_one(self, x: Features) -> float:
        return -float(self.pipeline.score_one(x))

    def learn_one(self, x: Features) -> None:
        self.pipeline.learn_one(x)


def build_ocsvm(nu: float = 0.1, calibration_window: int = 500) -> CalibratedScorer:
    if not 0.0 < nu < 1.0:
        raise ValueError("nu must be within (0, 1)")
    detector = (
        compose.FuncTransformer(transform)
        | preprocessing.StandardScaler()
        | compose.FuncTransformer(closeness)
        | anomaly.OneClassSVM(nu=nu)
    )
    # the SVM moves as it learns: the calibration re-scores its reference often
    return CalibratedScorer(
        _Outlyingness(detector),
        QuantileCalibrator(window=calibration_window),
        warm_after=100,
        rescore_every=50,
    )


OCSVM = ModelEntry(
    name="ocsvm",
    version="2",
    factory=build_ocsvm,  # version 2: closeness mapping, warm-up, re-scored calibration
    defaults={"nu": 0.1, "calibration_window": 500},
    description="transform → StandardScaler → OneClassSVM (River), quantile-calibrated "
    "against re-scored trusted traffic",
    ranges={"nu": (0.001, 0.999), "calibration_window": (50, 20_000)},
    state=CALIBRATED_STATE
    | Allowlist.of(
        _Outlyingness,
        compose.Pipeline,
        compose.FuncTransformer,
        preprocessing.StandardScaler,
        anomaly.OneClassSVM,
        optim.SGD,
        optim.schedulers.Constant,
        optim.losses.Hinge,
        optim.initializers.Zeros,
        VectorDict,
        transform,
        closeness,
    ),
)
