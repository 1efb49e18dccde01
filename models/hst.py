"""Default model: log-scaling → River ``MinMaxScaler`` → squash → ``HalfSpaceTrees``.

Request counts span six orders of magnitude (a human's 3 views an hour, a
scraper's 30,000), so features are log-compressed before min-max scaling; without
that one bulk scraper sets the maximum and squashes every other actor to zero.
"""

from __future__ import annotations

import math

from river import anomaly, compose, preprocessing

from models.base import Features, Scorer
from models.calibration import CalibratedScorer, QuantileCalibrator
from models.registry import ModelEntry, register


def log_features(x: Features) -> Features:
    """``sign(v) * log1p(|v|)`` for every feature; keeps the dict's keys."""
    return {k: math.copysign(math.log1p(abs(v)), v) for k, v in x.items()}


def squash(x: Features) -> Features:
    """Map min-max scaled values so that the learned range fills ``[0, 0.5]``.

    ``MinMaxScaler`` maps values beyond the learned maximum above 1, and
    ``HalfSpaceTrees`` works on ``[0, 1]``: clipping would put a 100x outlier in
    the same leaf as the busiest normal actor. ``v / (1 + v)`` keeps the learned
    range in the lower half and spreads outliers over the (empty) upper half.
    """
    return {k: (v / (1.0 + v) if v > 0.0 else 0.0) for k, v in x.items()}


def build_hst(
    n_trees: int = 25,
    height: int = 8,
    window_size: int = 250,
    seed: int = 42,
    calibration_window: int = 2000,
) -> Scorer:
    detector = (
        compose.FuncTransformer(log_features)
        | preprocessing.MinMaxScaler()
        | compose.FuncTransformer(squash)
        | anomaly.HalfSpaceTrees(n_trees=n_trees, height=height, window_size=window_size, seed=seed)
    )
    return CalibratedScorer(detector, QuantileCalibrator(window=calibration_window))


HST = register(
    ModelEntry(
        name="hst",
        version="1",
        factory=build_hst,
        defaults={
            "n_trees": 25,
            "height": 8,
            "window_size": 250,
            "seed": 42,
            "calibration_window": 2000,
        },
        description="log1p → MinMaxScaler → squash → HalfSpaceTrees (River), quantile-calibrated",
    )
)
