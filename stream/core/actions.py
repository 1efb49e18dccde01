"""The three actions scrapeguard can ask for, in order of severity."""

from __future__ import annotations

from enum import IntEnum


class Action(IntEnum):
    """``allow < challenge < block``: ``max()`` of two actions is the stricter one."""

    ALLOW = 0
    CHALLENGE = 1
    BLOCK = 2

    @property
    def label(self) -> str:
        """The wire name: ``allow``, ``challenge`` or ``block``."""
        return _LABELS[self]

    @property
    def words(self) -> str:
        """For people: what the action means for the actor."""
        return _WORDS[self]

    @classmethod
    def parse(cls, name: str) -> Action:
        """``"block"`` → ``Action.BLOCK``; ValueError for anything else."""
        try:
            return _BY_LABEL[name]
        except (KeyError, TypeError):
            raise ValueError(f"action must be allow, challenge or block, not {name!r}") from None


_LABELS = {Action.ALLOW: "allow", Action.CHALLENGE: "challenge", Action.BLOCK: "block"}
_BY_LABEL = {v: k for k, v in _LABELS.items()}
_WORDS = {
    Action.ALLOW: "allowed",
    Action.CHALLENGE: "challenged (CAPTCHA or re-authentication)",
    Action.BLOCK: "blocked",
}
ACTION_LABELS: tuple[str, ...] = tuple(_LABELS[a] for a in Action)
