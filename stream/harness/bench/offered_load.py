"""The latency bench's open-loop load: request events at fixed offered rates, and each
decision's latency from the event's sending to the decision readable on ``decisions``."""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from stream.harness.bench import workload
from stream.kafka.read_to_end import is_marker
from stream.kafka.writer import partition_for
from stream.settings import Settings


async def offered_load(
    s: Settings,
    loads: tuple[int, ...],
    load_s: float,
    sending: threading.Event | None = None,
    log: Callable[[str], None] = print,
    worker_cpu_s: Callable[[], float] | None = None,
) -> dict[int, dict[str, float]]:
    """Request events at each offered rate of ``loads`` for ``load_s`` seconds (open
    loop, stamped when sent), and each decision's latency: sent → readable on
    ``decisions``. ``sending`` is set once the first events are sent. With
    ``worker_cpu_s`` (the worker's CPU seconds so far), each rate also gives the cores the
    worker used while it was offered (``worker_cores``): near 1, one process's interpreter
    is saturated and the latency is queueing, growing with the length of the run."""
    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    consumer = AIOKafkaConsumer(
        s.topic_decisions,
        bootstrap_servers=s.bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=5,  # enforcement reads decisions as soon as they are there
    )
    await consumer.start()
    stop = asyncio.Event()

    async def read() -> None:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=50)
            t = time.time()
            for recs in batch.values():
                for r in recs:
                    if is_marker(r):  # the global view's end markers (no value)
                        continue
                    seen.setdefault(orjson.loads(r.value)["trigger_event_id"], t)

    reader = asyncio.create_task(read())
    producer = AIOKafkaProducer(
        bootstrap_servers=s.bootstrap, linger_ms=1, max_batch_size=256 * 1024
    )
    await producer.start()
    n_parts = len(await producer.partitions_for(s.topic_requests))
    results: dict[int, dict[str, float]] = {}
    try:
        for load in loads:
            ids: list[str] = []
            tick = 0.01
            per_tick = max(1, round(load * tick))
            total = int(load * load_s)
            gen = workload.events(
                total,
                max(100, total // 8),
                time.time(),
                seed=load,
                span_s=load_s,
                prefix=f"l{load}-",
            )
            t0 = time.monotonic()
            cpu0 = worker_cpu_s() if worker_cpu_s is not None else 0.0
            k = 0
            while k < total:
                batches: dict[int, Any] = {}
                now = time.time()
                for _ in range(min(per_tick, total - k)):
                    key, value, eid = next(gen)
                    doc = orjson.loads(value)
                    doc["ts"] = now
                    p = partition_for(key, n_parts)
                    b = batches.setdefault(p, producer.create_batch())
                    b.append(key=key, value=orjson.dumps(doc), timestamp=None)
                    sent[eid] = now
                    ids.append(eid)
                    k += 1
                for p, b in batches.items():
                    await producer.send_batch(b, s.topic_requests, partition=p)
                if sending is not None:
                    sending.set()
                k_time = t0 + (k / load)
                await asyncio.sleep(max(0.0, k_time - time.monotonic()))
            offered_s = time.monotonic() - t0
            cores = (worker_cpu_s() - cpu0) / offered_s if worker_cpu_s is not None else None
            await asyncio.sleep(3.0)  # let the last decisions arrive
            lat = sorted((seen[e] - sent[e]) * 1000 for e in ids if e in seen)
            q = statistics.quantiles(lat, n=100) if len(lat) >= 2 else [0.0] * 99
            results[load] = {
                "p50": round(q[49], 2),
                "p95": round(q[94], 2),
                "p99": round(q[98], 2),
                "decisions": len(lat),
                "achieved_eps": round(total / (time.monotonic() - t0 - 3.0)),
            }
            if cores is not None:
                results[load]["worker_cores"] = round(cores, 2)
            log(
                f"bench: latency at {load}/s: p50 {q[49]:.1f} ms, p99 {q[98]:.1f} ms "
                f"({len(lat)} decisions"
                + (f"; worker at {cores:.2f} cores" if cores is not None else "")
                + ")"
            )
    finally:
        stop.set()
        await reader
        await producer.stop()
        await consumer.stop()
    return results
