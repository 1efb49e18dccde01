"""Restoring actor state from the changelog: ``python -m stream.harness.bench.restore N
[--mode raw|packed|decoded]`` prints JSON.

What the detector does per changelog record once it is read (the Kafka read itself is the
same in every mode and not measured here), for N actors over 8 partitions, and the growth
of resident memory once the partitions hold them and the records read are dropped
(``rss_bytes_per_actor``; ``held_bytes_per_actor``: after ``malloc_trim``, as glibc keeps
freed memory for reuse rather than giving it back):

* ``raw`` (the worker's): the cheap check of the bytes, then into the cold tier as they are
  (:meth:`~stream.core.actor_table.ActorTable.put_encoded`); ``packed_bytes_per_actor`` is
  the memory (after ``malloc_trim``) once the lazy compression
  (:meth:`~stream.core.actor_table.ActorTable.trim`) has gone through all of them,
  ``pack_us_per_actor`` its cost;
* ``packed``: the same, then every entry compressed at once (a compression at restore);
* ``decoded`` (before): each record decoded, put in the hot tier and compressed into the
  cold tier by ``trim`` beyond the hot ones.

The records are copies of the states the memory bench's stream leaves
(:mod:`.memory`: 1-4 events per actor, 2 % scrapers), built in a child process so that the
memory this one measures is the restore's alone.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import multiprocessing
import time

import orjson
from aiokafka.partitioner import murmur2

from stream.core.actor_codec import decode, encode
from stream.harness.bench.memory import detectors, feed, rss_bytes
from stream.runtime.detector_agent import checked_state

TEMPLATES = 20_000


def templates(n: int) -> list[bytes]:
    """The changelog bytes of ``n`` actors after the memory bench's stream."""
    dets = detectors()
    feed(dets, n)
    return [encode(s) for d in dets for _, s in d.actors.items()]


def main(n: int, mode: str = "raw") -> dict[str, float]:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        blobs = pool.apply(templates, (min(n, TEMPLATES),))
    dets = detectors()
    gc.collect()
    before = rss_bytes()
    # what StateChangelog.restore hands over: per partition, the newest bytes of each actor
    changelog: dict[int, dict[str, bytes]] = {p: {} for p in range(len(dets))}
    for i in range(n):
        actor = f"account:r{i}"
        # Kafka's partitioner without writer.partition_for's cache (it would hold the keys)
        p = (murmur2(actor.encode()) & 0x7FFFFFFF) % len(dets)
        changelog[p][actor] = bytes(
            bytearray(blobs[i % len(blobs)])  # a record of its own, as a read makes it
        )
    started = time.process_time()
    for p, states in changelog.items():
        det = dets[p]
        if mode == "decoded":
            for actor, blob in states.items():
                det.restore(actor, decode(blob))
        else:
            for actor, blob in states.items():
                det.restore(actor, checked_state(blob))
    restore_s = time.process_time() - started
    pack_s = 0.0
    if mode == "packed":
        started = time.process_time()
        for det in dets:
            det.actors.pack_raw()
        pack_s = time.process_time() - started
    del changelog, states
    gc.collect()
    after = rss_bytes()
    # memory freed (the records read; in ``packed`` and ``decoded`` the raw bytes too) goes
    # back to the allocator for reuse, not to the system: malloc_trim hands it back, so
    # that resident memory shows what the partitions hold
    trim = ctypes.CDLL(None).malloc_trim
    trim(0)
    out = {
        "actors": sum(len(d.actors) for d in dets),
        "hot_actors": sum(d.actors.hot for d in dets),
        "restore_us_per_actor": round((restore_s + pack_s) / n * 1e6, 2),
        "rss_bytes_per_actor": round((after - before) / n),
        "held_bytes_per_actor": round((rss_bytes() - before) / n),
        "watermark_set": all(d.watermark > 0 for d in dets),
    }
    if mode == "raw":
        started = time.process_time()
        for det in dets:
            det.actors.pack_raw()
        pack_s = time.process_time() - started
        gc.collect()
        trim(0)
        out["pack_us_per_actor"] = round(pack_s / n * 1e6, 2)
        out["packed_bytes_per_actor"] = round((rss_bytes() - before) / n)
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("actors", type=int)
    ap.add_argument("--mode", choices=("raw", "packed", "decoded"), default="raw")
    args = ap.parse_args()
    print(orjson.dumps({"mode": args.mode, **main(args.actors, args.mode)}).decode())
