"""The one narrow interface every model implements.

A scorer sees one feature vector at a time (a plain ``dict`` of floats, the same dicts
River uses) and answers with a score in ``[0, 1]``: near 0 is ordinary traffic, near 1 is
automated collection as surely as the model can tell. Scores are calibrated inside
``models/`` so that a threshold means the same for every model.

* ``score_one`` returns ``None`` while the model is not warm (it has not learned enough
  to say anything): never a made-up 0, 0.5 or 1.
* ``learn_one`` takes a vector the caller trusts to be normal traffic. Callers score
  first, then learn, and never learn from actors they flagged or know to be bots.
* Models that learn from labels (challenge outcomes, analysts' verdicts) also implement
  :class:`LabelLearner`.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

Features = dict[str, float]


@runtime_checkable
class Scorer(Protocol):
    """What the stream needs from a model: score one vector, learn one vector."""

    def score_one(self, x: Features) -> float | None:
        """The calibrated score of ``x`` in ``[0, 1]``, or None while not warm."""
        ...

    def learn_one(self, x: Features) -> None:
        """Update the model with ``x``, which the caller believes is normal."""
        ...


@runtime_checkable
class LabelLearner(Protocol):
    """A model that also learns from labelled actors."""

    def learn_label(self, x: Features, is_bot: bool) -> None:
        """Update the model with ``x`` of an actor known to be a bot or a person."""
        ...
