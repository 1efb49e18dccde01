"""Anomaly models: the scorer interface, calibration and the registry of named models.

``models`` never imports ``stream``: everything here works on plain feature dicts.
Importing this package registers the built-in models.
"""

from models import ensemble as _ensemble  # noqa: F401  (registers the built-in models)
from models import hst as _hst  # noqa: F401
from models.base import Features, LabelLearner, Scorer
from models.registry import REGISTRY, ModelEntry, ModelSpec, register

DEFAULT_MODEL = "ensemble"

__all__ = [
    "DEFAULT_MODEL",
    "REGISTRY",
    "Features",
    "LabelLearner",
    "ModelEntry",
    "ModelSpec",
    "Scorer",
    "register",
]
