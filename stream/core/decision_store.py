"""Every worker's view of all decisions: current decision per actor, history, paging.

Fed from the whole ``decisions`` topic (every partition, every worker), so any worker
answers ``GET /decisions/{actor}`` for any actor without routing. Bounded: at most
``max_actors`` actors (the oldest decisions are forgotten first) and ``history`` past
decisions per actor.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any

from stream.core.records import Decision


@dataclass
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


class DecisionStore:
    def __init__(self, max_actors: int = 1_000_000, history: int = 20) -> None:
        self.max_actors = max_actors
        self.history_len = history
        # actor -> recent decisions, oldest first; ordered by the newest decision's arrival
        self._by_actor: OrderedDict[str, deque[Decision]] = OrderedDict()
        self.total = 0
        self.evicted = 0  # actors forgotten by the bound

    def add(self, d: Decision) -> None:
        self.total += 1
        hist = self._by_actor.pop(d.actor, None)
        if hist is None:
            hist = deque(maxlen=self.history_len)
        if any(h.decision_id == d.decision_id for h in hist):
            self._by_actor[d.actor] = hist  # a re-delivery: same decision_id
            return
        hist.append(d)
        self._by_actor[d.actor] = hist
        while len(self._by_actor) > self.max_actors:
            self._by_actor.popitem(last=False)
            self.evicted += 1

    def __len__(self) -> int:
        return len(self._by_actor)

    def history(self, actor: str) -> list[Decision]:
        return list(self._by_actor.get(actor, ()))

    def current(
        self, actor: str, now: float, include_shadow: bool = False
    ) -> dict[str, Any] | None:
        """The decision in force for ``actor`` at ``now`` (``allow`` once expired), or None."""
        hist = [d for d in self._by_actor.get(actor, ()) if include_shadow or not d.shadow]
        if not hist:
            return None
        d = max(hist, key=lambda x: x.ts)
        in_force = d.action != "allow" and d.expires_at > now
        return {
            "actor": actor,
            "action": d.action if in_force else "allow",
            "in_force": in_force,
            "decision": d.as_dict(),
            "expires_at": d.expires_at if in_force else None,
            "reasons": d.reasons,
        }

    def query(
        self,
        action: str | None = None,
        since: float | None = None,
        include_shadow: bool = False,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page:
        """Latest decision per actor, newest first, filtered; ``cursor`` continues a page."""
        rows = []
        for hist in self._by_actor.values():
            for d in reversed(hist):
                if d.shadow and not include_shadow:
                    continue
                rows.append(d)
                break
        if action:
            rows = [d for d in rows if d.action == action]
        if since is not None:
            rows = [d for d in rows if d.ts >= since]
        rows.sort(key=lambda d: (d.ts, d.decision_id), reverse=True)
        if cursor:
            ts_s, _, did = cursor.partition(":")
            key = (float(ts_s), did)
            rows = [d for d in rows if (d.ts, d.decision_id) < key]
        page = rows[:limit]
        nxt = f"{page[-1].ts}:{page[-1].decision_id}" if len(rows) > limit else None
        return Page([d.as_dict() for d in page], nxt)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {"allow": 0, "challenge": 0, "block": 0}
        for hist in self._by_actor.values():
            live = [d for d in hist if not d.shadow]
            if live:
                out[live[-1].action] = out.get(live[-1].action, 0) + 1
        return out
