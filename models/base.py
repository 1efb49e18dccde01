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
* What a model learned travels as *data*, never as pickled code: ``to_state()`` (a model
  may define it; by default :func:`models.state.dump` walks the object graph) and the
  registry entry's ``from_state(state)``, which rebuilds only the classes and functions
  the entry declares (``ModelEntry.state``, :mod:`models.state`). See
  :class:`HasState`.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

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


@runtime_checkable
class HasState(Protocol):
    """A model with a state format of its own (most use the generic one instead)."""

    def to_state(self) -> dict[str, Any]:
        """Everything the model learned, as JSON-able data."""
        ...


def state_of(model: object) -> dict[str, Any]:
    """``model.to_state()`` when it has one, else the generic :func:`models.state.dump`."""
    if isinstance(model, HasState):
        return model.to_state()
    from models.state import dump

    return dump(model)
