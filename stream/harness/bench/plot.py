"""The benchmark's Markdown table and PNG plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stream.extras import import_extra

TARGETS = {"throughput_eps": 50_000, "ratio": 10, "p99_ms_at_10k": 100, "bytes_per_actor": 1024}


def table(r: dict[str, Any]) -> str:
    sp = r["spread"]
    lat = r["latency_ms"]
    rows = [
        "| measure | value | target |",
        "|---|---|---|",
        f"| throughput, 1 worker (median of {r['config']['runs']}) | {r['throughput_eps']:,} "
        f"events/s (spread {sp['throughput_eps'][0]:,}–{sp['throughput_eps'][1]:,}), until its "
        "agents are done too | ≥ 50,000 |",
        f"| naive Faust baseline | {r['baseline_throughput_eps']:,} events/s (spread "
        f"{sp['baseline_throughput_eps'][0]:,}–{sp['baseline_throughput_eps'][1]:,}) | |",
        f"| ratio scrapeguard / baseline | {r['ratio']}× | ≥ 10× |",
    ]
    if r.get("detector_throughput_eps"):
        rows.append(
            f"| the detector alone, its agents not yet done | "
            f"{r['detector_throughput_eps']:,} events/s | |"
        )
    rows += [
        f"| throughput, 2 workers | {r['scale_out_eps']['2']:,} events/s | |",
    ]
    if "pipeline_us_per_event" in r:
        rows.append(
            f"| pure pipeline, offline (no Kafka) | {r['pipeline_us_per_event']} µs/event | "
            "≲ 10 µs with I/O |"
        )
    cores = r.get("latency_worker_cores", {})
    for load, q in lat.items():
        target = "p99 ≤ 100 ms" if load == "10000" else ""
        worker = f" (worker at {cores[load]:.2f} cores)" if load in cores else ""
        rows.append(
            f"| latency at {int(load):,} events/s offered | p50 {q['p50']:.1f} ms, "
            f"p95 {q['p95']:.1f} ms, p99 {q['p99']:.1f} ms{worker} | {target} |"
        )
    for rate, q in r.get("check_latency_ms", {}).items():
        rows.append(
            f"| GET /check at {int(rate):,} requests/s offered | p50 {q['p50']:.2f} ms, "
            f"p99 {q['p99']:.2f} ms ({q['achieved_rps']:,}/s achieved) | "
            f"{'p99 ≤ 2 ms' if rate == '1000' else ''} |"
        )
    for rate, q in r.get("check_latency_busy_ms", {}).items():
        rows.append(
            f"| GET /check at {int(rate):,} requests/s while the worker takes "
            f"{q['events_eps']:,} events/s | p50 {q['p50']:.2f} ms, p99 {q['p99']:.2f} ms "
            f"({q['achieved_rps']:,}/s achieved) | |"
        )
    for n, b in r["bytes_per_actor"].items():
        rows.append(
            f"| state per active actor, {int(n):,} actors | {b:,} B in memory "
            f"({r['bytes_per_actor_all_in'][n]:,} B with the warm-up's "
            f"{r['memory_warm_up_mb'][n]} MB), "
            f"{r['encoded_bytes_per_actor'][n]:,} B in the changelog | ≤ 1 KB |"
        )
    rows += [
        f"| peak RSS of a worker | {r['peak_rss_mb']} MB | |",
        f"| CPU per 1k events | {r['cpu_s_per_1k_events']} s | |",
    ]
    return "\n".join(rows)


def plot(r: dict[str, Any], path: Path) -> None:
    matplotlib = import_extra("matplotlib", "plotting a report")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    loads = sorted(int(k) for k in r["latency_ms"])
    for q in ("p50", "p95", "p99"):
        a.plot(loads, [r["latency_ms"][str(x)][q] for x in loads], marker="o", label=q)
    a.axhline(100, color="grey", linestyle="--", linewidth=1, label="100 ms target")
    a.set_xlabel("offered load (events/s)")
    a.set_ylabel("event → decision (ms)")
    a.set_title("Latency vs offered load")
    a.legend()
    names = ["naive Faust", "scrapeguard\n1 worker", "scrapeguard\n2 workers"]
    vals = [r["baseline_throughput_eps"], r["scale_out_eps"]["1"], r["scale_out_eps"]["2"]]
    b.bar(names, vals, color=["#999", "#1565c0", "#0d47a1"])
    for i, v in enumerate(vals):
        b.text(i, v, f"{v:,}", ha="center", va="bottom")
    b.set_ylabel("events/s")
    b.set_title("Throughput")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
