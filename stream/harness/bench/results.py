"""What one ``make bench`` measured, run by run, and ``bench.json`` made of it: medians
over the runs, their spread, every run as measured, the configuration and the machine."""

from __future__ import annotations

import os
import platform
import statistics
from dataclasses import dataclass, field
from typing import Any

from stream.core.compiled import summary

Run = dict[str, float]
QUANTILES = ("p50", "p95", "p99")


@dataclass
class Measured:
    """The figures of a bench as :class:`~stream.harness.bench.run.Bench` measured them."""

    throughput: list[Run] = field(default_factory=list)  # one worker, per run
    baseline: list[Run] = field(default_factory=list)  # the naive Faust build
    faust_agent: list[Run] = field(default_factory=list)  # the detector as a Faust agent
    pipeline: list[Run] = field(default_factory=list)  # the pure core, offline
    latency: list[dict[int, Run]] = field(default_factory=list)  # offered load -> quantiles
    check: dict[str, dict[str, Any]] = field(default_factory=dict)  # /check under load
    # /check under load while the worker also takes request events
    check_busy: dict[str, dict[str, Any]] = field(default_factory=dict)
    two_workers: Run = field(default_factory=dict)
    memory: dict[int, Run] = field(default_factory=dict)  # actors -> memory figures
    restore: dict[int, Run] = field(default_factory=dict)  # actors -> restore figures


def bench_json(m: Measured, config: dict[str, Any], seconds: float) -> dict[str, Any]:
    """``bench.json``: the medians first, then the spread and every run."""
    loads: list[int] = config["loads_eps"]
    eps = [r["eps"] for r in m.throughput]
    beps = [r["eps"] for r in m.baseline]
    feps = [r["eps"] for r in m.faust_agent]
    med, bmed = statistics.median(eps), statistics.median(beps)
    pipe = [r["us_per_event"] for r in m.pipeline]
    deps = [r["detector_eps"] for r in m.throughput if "detector_eps" in r]
    return {
        # until the whole pipeline has worked the events: the detector, then its agents
        "throughput_eps": round(med),
        # the detector alone, its agents not yet done (what throughput_eps measured before)
        "detector_throughput_eps": round(statistics.median(deps)) if deps else None,
        "baseline_throughput_eps": round(bmed),
        "faust_agent_throughput_eps": round(statistics.median(feps)),
        "ratio": round(med / bmed, 1),
        "pipeline_us_per_event": statistics.median(pipe),
        "latency_ms": {
            str(load): {q: statistics.median(r[load][q] for r in m.latency) for q in QUANTILES}
            for load in loads
        },
        # the cores the worker used at each offered load: near 1, its interpreter is
        # saturated (a run's latency is then queueing; stream.harness.bench.offered_load)
        "latency_worker_cores": {
            str(load): statistics.median(r[load]["worker_cores"] for r in m.latency)
            for load in loads
            if m.latency and all("worker_cores" in r[load] for r in m.latency)
        },
        "check_latency_ms": m.check,
        "check_latency_busy_ms": m.check_busy,
        # what each further actor costs, and the warm-up (the models, the first events'
        # imports, the warm-up's actors) apart: a cost per worker (stream.harness.bench.memory)
        "bytes_per_actor": {str(n): round(r["rss_bytes_per_actor"]) for n, r in m.memory.items()},
        "bytes_per_actor_all_in": {
            str(n): round(r["rss_bytes_per_actor_all_in"]) for n, r in m.memory.items()
        },
        "memory_warm_up_mb": {
            str(n): round(r["warm_up_bytes"] / 1e6, 1) for n, r in m.memory.items()
        },
        "encoded_bytes_per_actor": {
            str(n): round(r["encoded_bytes_per_actor"]) for n, r in m.memory.items()
        },
        # restore from the changelog's bytes (Kafka's read not included), and the
        # memory right after it, before the lazy compression
        "restore_us_per_actor": {str(n): r["restore_us_per_actor"] for n, r in m.restore.items()},
        "restored_bytes_per_actor": {
            str(n): r["rss_bytes_per_actor"] for n, r in m.restore.items()
        },
        "peak_rss_mb": round(max(r["peak_rss_mb"] for r in m.throughput), 1),
        "cpu_s_per_1k_events": round(statistics.median(r["cpu_s_per_1k"] for r in m.throughput), 3),
        "scale_out_eps": {"1": round(med), "2": round(m.two_workers["eps"])},
        "spread": {
            "throughput_eps": [round(min(eps)), round(max(eps))],
            "detector_throughput_eps": [round(min(deps)), round(max(deps))] if deps else None,
            "baseline_throughput_eps": [round(min(beps)), round(max(beps))],
            "faust_agent_throughput_eps": [round(min(feps)), round(max(feps))],
            "pipeline_us_per_event": [min(pipe), max(pipe)],
            "latency_ms": {
                str(load): {
                    q: [min(r[load][q] for r in m.latency), max(r[load][q] for r in m.latency)]
                    for q in ("p50", "p99")
                }
                for load in loads
            },
        },
        "runs": {
            "throughput": m.throughput,
            "baseline": m.baseline,
            "faust_agent": m.faust_agent,
            "pipeline": m.pipeline,
            "latency": [{str(k): v for k, v in r.items()} for r in m.latency],
        },
        "config": config,
        # the pure core compiled (mypyc) or run from its sources: stream.core.compiled
        "core": summary(),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "processor": platform.machine(),
        },
        "seconds": round(seconds),
    }
