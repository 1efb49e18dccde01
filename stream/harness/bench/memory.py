"""Bytes of state per active actor: ``python -m stream.harness.bench.memory N [HOT]
[--twice]`` prints JSON (``HOT``: actors kept decoded per partition, default
``Limits.hot_actors``).

Feeds ``WARM_ACTORS`` actors (``WARM_EVENTS`` page views each, so that every partition's
models learn), then N more (1-4 events each, half of them viewing profiles, 0.2 % scrapers
viewing hundreds), through the pipeline of 8 partitions and measures the growth
of the process's resident memory, and the size of the encoded state written to the
changelog. Each partition keeps at most its default ``Limits.hot_actors`` decoded and the
rest compressed (:mod:`stream.core.actor_table`); of actors seen in one batch only, as
every measured one is, at most half of that (the table's probation segment).
``hot_actors`` in the output says how many were decoded (of all the actors, the warm-up's
included). ``--twice`` (after N and HOT) delivers each batch a second time right after
the first: every actor then comes back while decoded (re-deliveries count nothing), the
worst case for the table, whose decoded actors then fill ``hot_actors``.

The figures: ``rss_bytes_per_actor``, the growth from the N actors over N (what each further
actor costs, the hot tier included); ``warm_up_bytes``, the growth from the warm-up (the
partitions' models, which River builds on their first learn, what the first events load,
and the warm-up's own actors: a cost per worker, not per actor); and
``rss_bytes_per_actor_all_in``, all the growth over all the actors (what this bench reported
as bytes per actor before it had a warm-up).
"""

from __future__ import annotations

import gc
import random
import sys
import time

import orjson
from aiokafka.partitioner import murmur2

from models import REGISTRY
from stream.core.actor_codec import encode
from stream.core.batch import Limits
from stream.core.partition_detector import PartitionDetector
from stream.core.policy_loader import load_policy


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096


# Actors fed before the measured ones: by then every partition's models are built (River's
# trees on a model's first learn), and so is the last good copy each partition keeps of
# them (stream.core.scoring: every CHECKPOINT_EVERY learns), and the modules the first
# events load are loaded, so that the per-actor figure is the slope, not that fixed cost
# spread over the actors. An actor teaches the models at most once per score interval
# (300 s), from LEARN_MIN_EVENTS events: each of the warm-up's actors makes 100 requests
# 30 s apart (~9 learns); the measured ones make 1-4 in seconds and never teach. Few
# warm-up actors, because the memory they free as they leave the hot tier during the
# measured feed is used again by the measured actors (up to ~1.5 KB each, not counted).
# With 4,000 warm-up actors of 1-4 requests, no model had learnt by the end of the
# warm-up: the trees were built during the measured feed, and ~90 B of the per-actor
# figure at 100,000 actors was River's trees.
WARM_ACTORS = 1_000
WARM_EVENTS = 100
WARM_GAP_S = 30.0


def detectors(hot: int | None = None) -> list[PartitionDetector]:
    """The pipelines of 8 partitions, each ``hot`` actors decoded (default: the Limits')."""
    policy, spec = load_policy(), REGISTRY.get("hst").spec()
    return [
        PartitionDetector(
            "requests",
            p,
            policy,
            REGISTRY.build(spec),
            spec.label(),
            Limits() if hot is None else Limits(hot_actors=hot),
            clock=time.time,
        )
        for p in range(8)
    ]


def feed(
    dets: list[PartitionDetector],
    n: int,
    prefix: str = "m",
    events: int = 0,
    gap_s: float = 5.0,
    twice: bool = False,
) -> None:
    """N distinct actors' events through ``dets`` (see the module), ``gap_s`` apart;
    ``prefix`` keeps the accounts of two feeds apart. ``events``: each actor's number of
    events, and neither scrapers nor profile views (the warm-up's, so that the models
    learn); by default 1-4, half of them profile views, and 0.2 % scrapers. ``twice``:
    each batch is delivered again right after (see the module)."""

    class R:
        __slots__ = ("key", "offset", "value")

        def __init__(self, offset: int, key: bytes, value: bytes) -> None:
            self.offset, self.key, self.value = offset, key, value

    rng = random.Random(1)
    now = time.time() - 3600
    # ~5,000 events a batch of the 8 partitions (a batch of 100,000 held ~0.4 GB)
    per_batch = max(1, 5000 // events) if events else 2000
    offsets = [0] * 8
    batch: list[list[R]] = [[] for _ in range(8)]
    for a in range(n):
        key = f"account:{prefix}{a}".encode()
        # Kafka's partitioner without writer.partition_for's cache: the keys the cache
        # would hold are the load generator's, not the actors' state being measured
        p = (murmur2(key) & 0x7FFFFFFF) % 8
        scraper = not events and a % 500 == 0
        for i in range(events or (300 if scraper else rng.randint(1, 4))):
            target = (
                str(rng.randrange(10**7))
                if scraper or (not events and rng.random() < 0.5)
                else None
            )
            doc = {
                "event_id": f"{prefix}{a}-{i}",
                "ts": now + i * gap_s,
                "account_id": f"{prefix}{a}",
                "ip": f"10.{(a >> 16) & 255}.{(a >> 8) & 255}.{a & 255}",
                "user_agent": "Mozilla/5.0",
                "path": "/profiles/{id}",
                "status": 200,
                "target_profile_id": target,
            }
            batch[p].append(R(offsets[p], key, orjson.dumps(doc)))
            offsets[p] += 1
        if a % per_batch == per_batch - 1:
            for q in range(8):
                for _ in range(2 if twice else 1):
                    dets[q].process(batch[q])
                batch[q] = []
    for q in range(8):
        for _ in range(2 if twice else 1):
            dets[q].process(batch[q])


def main(
    n: int, hot: int | None = None, warm: int = WARM_ACTORS, twice: bool = False
) -> dict[str, float]:
    dets = detectors(hot)
    gc.collect()
    start = rss_bytes()
    feed(dets, warm, prefix="w", events=WARM_EVENTS, gap_s=WARM_GAP_S)
    gc.collect()
    warmed = rss_bytes()
    feed(dets, n, twice=twice)
    gc.collect()
    after = rss_bytes()
    encoded = [len(encode(s)) for d in dets for _, s in d.actors.items()]
    actors = len(encoded)
    return {
        "actors": actors,
        "hot_actors": sum(d.actors.hot for d in dets),
        "rss_bytes_per_actor": (after - warmed) / n,
        "warm_up_bytes": warmed - start,
        "rss_bytes_per_actor_all_in": (after - start) / actors,
        "encoded_bytes_per_actor": sum(encoded) / actors,
    }


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--twice"]
    hot = int(args[1]) if len(args) > 1 else None
    print(orjson.dumps(main(int(args[0]), hot, twice="--twice" in sys.argv)).decode())
