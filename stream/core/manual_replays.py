"""Manual decisions appended again: :class:`ManualReplays`.

A manual decision is signed (:mod:`stream.core.operator_records`), but a writer of its
topic can copy an operator's record and append it again — an allow, to lift the block
an operator put in its place. Three checks refuse such a copy:

* the record must have entered the topic within ``window_s`` of when it was made
  (:meth:`ManualDecision.check_appended`; the topic stamps records with the broker's time);
* within that window, a worker remembers the manual decisions it read: a record with an
  id it read at another offset is a copy;
* and, per actor, a record made before the newest one it read of that actor, at a later
  offset, is a copy too (an actor's records arrive in the order they were appended).

A record read again at the same offset — after a rebalance, from the last committed
offset — is the same record, not a copy. The memory is a worker's own and lasts while it
runs: a copy appended within the window of a record read before the worker restarted is
refused only by the window.
"""

from __future__ import annotations

from stream.core.operator_records import ManualDecision


class ManualReplays:
    """What a worker read of the manual decisions within ``window_s``; see the module."""

    def __init__(self, window_s: float, ahead_s: float) -> None:
        self.window_s = window_s
        self.ahead_s = ahead_s
        self._ids: dict[str, tuple[int, int, float]] = {}  # id -> partition, offset, ts
        self._newest: dict[str, tuple[float, int]] = {}  # actor -> ts, offset of the newest

    def check(
        self, m: ManualDecision, appended_at: float | None, partition: int, offset: int
    ) -> None:
        """ValueError when ``m``, read at ``partition``/``offset``, is a copy of a record
        appended before (or out of the window); else it is remembered."""
        m.check_appended(appended_at, self.window_s, self.ahead_s)
        seen = self._ids.get(m.manual_id)
        if seen is not None and seen[:2] != (partition, offset):
            raise ValueError(
                f"manual decision {m.manual_id} was read before at another offset: a record "
                "appended again"
            )
        newest = self._newest.get(m.actor)
        if newest is not None and offset > newest[1] and m.ts < newest[0]:
            raise ValueError(
                f"manual decision {m.manual_id} was made before the one read before it of "
                "the same actor: a record appended again, or operators' clocks apart"
            )
        self._ids[m.manual_id] = (partition, offset, m.ts)
        if newest is None or offset > newest[1]:
            self._newest.pop(m.actor, None)  # re-inserted last: the dict runs oldest first
            self._newest[m.actor] = (m.ts, offset)
        self._forget(m.ts - 2 * self.window_s)

    def _forget(self, before: float) -> None:
        """Records made before ``before``: a copy of them is refused by the window alone.
        Both maps run in the order records were read, about the order they were made."""
        ids, newest = self._ids, self._newest
        while ids:
            key = next(iter(ids))
            if ids[key][2] >= before:
                break
            del ids[key]
        while newest:
            actor = next(iter(newest))
            if newest[actor][0] >= before:
                break
            del newest[actor]

    def __len__(self) -> int:
        return len(self._ids)
