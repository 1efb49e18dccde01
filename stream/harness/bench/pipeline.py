"""The pure pipeline alone, offline: ``python -m stream.harness.bench.pipeline [N]``.

Runs the bench mix (:mod:`.workload`: N events, N/4 actors, an hour of event time) through
:class:`~stream.core.partition_detector.PartitionDetector` of 8 partitions in batches of
500, with the default policy and the default live model, and encodes each changed actor's
state once per batch as the detector does for the changelog. No Kafka, no asyncio, no
ledger (sealing watched profile ids needs the worker's keys): what one event costs the
core. The first half of the events warms the models and the actor table up; the second
half is timed. Prints one JSON line (``us_per_event``,
``events_per_s``, and ``cpu_us_per_event``: the process's CPU time, steadier than the wall
clock on a shared machine); ``--profile K`` prints the K largest costs (cProfile, own
time) first. ``--gc-freeze K`` calls ``gc.freeze()`` after the warm-up and then every K
batches, as the worker does (:mod:`stream.runtime.detector_agent`), to compare.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import pstats
import sys
import time
from collections.abc import Callable

import orjson

from models import REGISTRY
from stream.core.actor_codec import encode
from stream.core.partition_detector import Limits, PartitionDetector
from stream.core.policy_loader import load_policy
from stream.harness.bench import workload
from stream.kafka.writer import partition_for
from stream.settings import Settings

PARTITIONS = 8
BATCH = 500


class _Record:
    __slots__ = ("key", "offset", "timestamp", "value")

    def __init__(self, offset: int, key: bytes, value: bytes) -> None:
        self.offset, self.key, self.value, self.timestamp = offset, key, value, None


def _setup(
    n: int, model: str, limits: Limits, gc_freeze: int = 0
) -> tuple[Callable[[int], int], float]:
    start = time.time() - 7200
    parts: list[list[_Record]] = [[] for _ in range(PARTITIONS)]
    for key, value, _ in workload.events(n, max(1, n // 4), start):
        p = partition_for(key, PARTITIONS)
        parts[p].append(_Record(len(parts[p]), key, value))
    policy, spec = load_policy(), REGISTRY.get(model).spec()
    dets = [
        PartitionDetector(
            "requests", p, policy, REGISTRY.build(spec), spec.label(), limits, clock=time.time
        )
        for p in range(PARTITIONS)
    ]

    def run(half: int) -> int:
        """Process one half of every partition's records; the events counted."""
        events = batches = 0
        for det, recs in zip(dets, parts, strict=True):
            mid = len(recs) // 2
            part = recs[:mid] if half == 0 else recs[mid:]
            for i in range(0, len(part), BATCH):
                out = det.process(part[i : i + BATCH])
                events += out.stats["events"]
                for state in out.changed.values():
                    encode(state)
                batches += 1
                if gc_freeze and batches % gc_freeze == 0:
                    gc.collect(1)
                    gc.freeze()
        return events

    return run, start


def measure(
    n: int = 200_000,
    model: str | None = None,
    profile: int = 0,
    hot: int | None = None,
    gc_freeze: int = 0,
) -> dict[str, float]:
    limits = Limits() if hot is None else Limits(hot_actors=hot)
    run, _ = _setup(n, model or Settings.model_fields["model"].default, limits, gc_freeze)
    run(0)
    if gc_freeze:
        gc.collect(1)  # as the worker does after a restore
        gc.freeze()
    prof = cProfile.Profile() if profile else None
    t0, c0 = time.perf_counter(), time.process_time()
    if prof is not None:
        prof.enable()
    events = run(1)
    if prof is not None:
        prof.disable()
    seconds, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    if prof is not None:
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(profile)
        print(buf.getvalue(), file=sys.stderr)
    return {
        "events": events,
        "seconds": round(seconds, 3),
        "us_per_event": round(seconds / events * 1e6, 2),
        "events_per_s": round(events / seconds),
        # CPU time of this process: on a shared machine, less noisy than the wall clock
        "cpu_us_per_event": round(cpu_s / events * 1e6, 2),
        "profiled": bool(profile),
        "gc_freeze": gc_freeze,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("events", nargs="?", type=int, default=200_000)
    ap.add_argument("--model", default=None, help="registered model (default: the worker's)")
    ap.add_argument("--profile", type=int, default=0, metavar="K", help="print the K top costs")
    ap.add_argument("--hot", type=int, default=None, help="actors decoded per partition")
    ap.add_argument(
        "--gc-freeze", type=int, default=0, metavar="K", help="gc.freeze() every K batches"
    )
    args = ap.parse_args()
    out = measure(args.events, args.model, args.profile, args.hot, args.gc_freeze)
    print(orjson.dumps(out).decode())


if __name__ == "__main__":
    main()
