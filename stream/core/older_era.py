"""When a stream mixes eras: an old log replayed beside today's traffic.

Two mechanisms assume one era per partition, and both get a rule for the other case:

* **Alignment** keeps partitions that catch up on a backlog within minutes of each other
  in event time, so that the correlator's hour windows see a group's accounts together.
  An event (or a partition's position) more than :data:`ERA_GAP_S` — a day, the longest
  window — away from the slowest backlog shares no window with it: it is of another era
  and is neither held back nor holds anything back. Held, one event of today would stop
  its partition, and the replayed events behind it, until every other partition had run
  dry; the group windows would then see that partition's accounts hours too late.
  The slowest backlog is that of the oldest era two or more partitions are in
  (:func:`era_floor`): one partition set years back by an event with an odd timestamp
  does not make every other "another era".
* **Idle expiry**, below.

Per-actor and per-group state is dropped once it is idle for a while of *event time*:
its newest event older than the partition's newest (the watermark) minus a TTL. When an
old log is replayed into a worker whose partitions are already at today's time (beside
``scrapeguard run``'s demo traffic, or live traffic), every replayed key is idle by that
rule from its first event, and the housekeeping pass (every 30 s) would drop it in the
middle of its session: its counts would start again from zero.

:class:`OlderEra` remembers such keys — idle-old already when their batch was worked —
by the clock time of that batch, and holds them back from expiry until ``grace_s`` of
clock time has passed since; at most ``max_keys`` (the state's own bound), and for one
grace period after a restore nothing expires (who was in use is not known then). In a
stream of one era it stays empty.
"""

from __future__ import annotations

from collections.abc import Callable

DEFAULT_GRACE_S = 3600.0
ERA_GAP_S = 86400.0


def era_floor(heads: list[float]) -> float:
    """The slowest of ``heads`` (partitions' places in event time), leaving out a partition
    alone in its era: heads more than :data:`ERA_GAP_S` apart are of different eras, and
    the floor is the slowest head of the oldest era that two or more partitions are in.
    So one partition moved far back (an event with an odd timestamp) does not set the pace
    of every other, while an old log replayed on many partitions beside today's traffic
    does."""
    ordered = sorted(heads)
    start = 0
    for i in range(1, len(ordered) + 1):
        if i == len(ordered) or ordered[i] - ordered[i - 1] > ERA_GAP_S:
            if i - start >= 2:
                return ordered[start]
            start = i
    return ordered[0]


class OlderEra:
    """Keys of an older era than their partition, last worked at clock time ``used[key]``
    (least recently worked first, at most ``max_keys``; ``dropped`` counts those the bound
    let go early)."""

    __slots__ = ("clock", "dropped", "grace_s", "max_keys", "restored_at", "used")

    def __init__(
        self,
        clock: Callable[[], float],
        grace_s: float = DEFAULT_GRACE_S,
        max_keys: int = 250_000,
    ) -> None:
        self.clock = clock
        self.grace_s = grace_s
        self.max_keys = max_keys
        self.used: dict[str, float] = {}
        self.dropped = 0
        # after a restore (a restart, a rebalance) nothing is known of who was in use: no
        # idle expiry for one grace period, rather than dropping a replay's state
        self.restored_at: float | None = None

    def remember(self, key: str, now: float) -> None:
        """``key``, already idle-old for its partition, was worked at clock time ``now``."""
        used = self.used
        used.pop(key, None)
        used[key] = now
        if len(used) > self.max_keys:
            del used[next(iter(used))]
            self.dropped += 1

    def take_dropped(self) -> int:
        """Keys the bound let go early since the last call (to count)."""
        n, self.dropped = self.dropped, 0
        return n

    def forget(self, keys: list[str]) -> None:
        """Keys whose state is gone (expired, or evicted by a bound)."""
        for key in keys:
            self.used.pop(key, None)

    def restored(self) -> None:
        """State was restored now: whatever of it is still in use is not known yet."""
        self.restored_at = self.clock()

    def settling(self) -> bool:
        """True within one grace period of a restore: no idle expiry yet."""
        at = self.restored_at
        return at is not None and self.clock() - at < self.grace_s

    def in_use(self) -> dict[str, float]:
        """The keys to keep from idle expiry now (those past the grace are forgotten)."""
        used = self.used
        if used:
            since = self.clock() - self.grace_s
            for key in [k for k, t in used.items() if t < since]:
                del used[key]
        return used
