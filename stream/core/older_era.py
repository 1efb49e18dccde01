"""When a stream mixes eras: an old log replayed beside today's traffic.

Two mechanisms assume one era per partition, and both get a rule for the other case:

* **Alignment** keeps partitions that catch up on a backlog within minutes of each other
  in event time, so that the correlator's hour windows see a group's accounts together.
  An event (or a partition's position) more than :data:`ERA_GAP_S` — a day, the longest
  window — away from the slowest backlog shares no window with it: it is of another era
  and is neither held back nor holds anything back. Held, one event of today would stop
  its partition, and the replayed events behind it, until every other partition had run
  dry; the group windows would then see that partition's accounts hours too late.
* **Idle expiry**, below.


Per-actor and per-group state is dropped once it is idle for a while of *event time*:
its newest event older than the partition's newest (the watermark) minus a TTL. When an
old log is replayed into a worker whose partitions are already at today's time (beside
``scrapeguard run``'s demo traffic, or live traffic), every replayed key is idle by that
rule from its first event, and the housekeeping pass (every 30 s) would drop it in the
middle of its session: its counts would start again from zero.

:class:`OlderEra` remembers such keys — idle-old already when their batch was worked —
by the clock time of that batch, and holds them back from expiry until ``grace_s`` of
clock time has passed since. In a stream of one era it stays empty.
"""

from __future__ import annotations

from collections.abc import Callable

DEFAULT_GRACE_S = 900.0
ERA_GAP_S = 86400.0


class OlderEra:
    """Keys of an older era than their partition, last worked at clock time ``used[key]``."""

    __slots__ = ("clock", "grace_s", "used")

    def __init__(self, clock: Callable[[], float], grace_s: float = DEFAULT_GRACE_S) -> None:
        self.clock = clock
        self.grace_s = grace_s
        self.used: dict[str, float] = {}

    def note(self, key: str, last_ts: float, idle_before: float, now: float) -> None:
        """``key`` was worked at clock time ``now``; its newest event is at ``last_ts``
        and the partition expires what is older than ``idle_before``."""
        if last_ts < idle_before:
            self.used[key] = now

    def in_use(self) -> dict[str, float]:
        """The keys to keep from idle expiry now (those past the grace are forgotten)."""
        used = self.used
        if used:
            since = self.clock() - self.grace_s
            for key in [k for k, t in used.items() if t < since]:
                del used[key]
        return used
