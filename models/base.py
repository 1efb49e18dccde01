"""The one narrow interface every anomaly model implements.

A scorer sees one feature vector at a time (a plain ``dict`` of floats, the same
dicts River uses) and answers with a score in ``[0, 1]``: 0 is as ordinary as the
traffic the model learned from, 1 is more anomalous than anything it has seen.

Callers score first, then learn, and only learn from traffic they did not flag.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

Features = dict[str, float]


@runtime_checkable
class Scorer(Protocol):
    """What the stream needs from a model: score one vector, learn one vector."""

    def score_one(self, x: Features) -> float:
        """Return the calibrated anomaly score of ``x`` in ``[0, 1]``."""
        ...

    def learn_one(self, x: Features) -> None:
        """Update the model with ``x``, which the caller believes is normal."""
        ...
