"""bench.json from what a bench measured (stream.harness.bench.results): medians of the
runs, their spread, and every run as measured."""

from __future__ import annotations

from stream.harness.bench.plot import table
from stream.harness.bench.results import Measured, bench_json


def measured() -> Measured:
    m = Measured()
    for eps, base, us, p99 in ((14000.0, 1400.0, 28.0, 400.0), (15000.0, 1300.0, 27.0, 520.0),
                               (12000.0, 1500.0, 30.0, 350.0)):  # fmt: skip
        run = {"eps": eps, "detector_eps": eps * 2, "peak_rss_mb": eps / 100}
        m.throughput.append({**run, "cpu_s_per_1k": us / 400})
        m.baseline.append({"eps": base})
        m.faust_agent.append({"eps": base * 2})
        m.pipeline.append({"us_per_event": us})
        m.latency.append(
            {10000: {"p50": p99 / 2, "p95": p99 * 0.9, "p99": p99, "worker_cores": p99 / 500}}
        )
    m.check = {"1000": {"p50": 0.8, "p99": 1.7, "achieved_rps": 1000}}
    m.check_busy = {"1000": {"p50": 6.0, "p99": 70.0, "achieved_rps": 998, "events_eps": 10000}}
    m.two_workers = {"eps": 25000.0}
    m.memory[100_000] = {
        "rss_bytes_per_actor": 1443.9,
        "rss_bytes_per_actor_all_in": 1860.6,
        "warm_up_bytes": 49_111_040,
        "encoded_bytes_per_actor": 913.6,
    }
    m.restore[100_000] = {"restore_us_per_actor": 0.7, "rss_bytes_per_actor": 1095.0}
    return m


def test_medians_ratio_and_spread_over_the_runs() -> None:
    config = {"runs": 3, "loads_eps": [10000]}
    m = measured()
    out = bench_json(m, config, 123.4)
    assert out["throughput_eps"] == 14000 and out["baseline_throughput_eps"] == 1400
    assert out["ratio"] == 10.0  # the medians' ratio, not a run's
    assert out["faust_agent_throughput_eps"] == 2800
    assert out["pipeline_us_per_event"] == 28.0
    assert out["spread"]["throughput_eps"] == [12000, 15000]
    # the whole pipeline is the headline; the detector alone, before its agents are done, apart
    assert out["detector_throughput_eps"] == 28000
    assert out["spread"]["detector_throughput_eps"] == [24000, 30000]
    assert out["spread"]["pipeline_us_per_event"] == [27.0, 30.0]
    # each quantile is the median of that quantile over the runs
    assert out["latency_ms"]["10000"] == {"p50": 200.0, "p95": 360.0, "p99": 400.0}
    assert out["spread"]["latency_ms"]["10000"]["p99"] == [350.0, 520.0]
    assert out["latency_worker_cores"] == {"10000": 0.8}  # the median run's cores
    assert out["peak_rss_mb"] == 150.0  # the highest of the runs
    assert out["cpu_s_per_1k_events"] == 0.07
    assert out["scale_out_eps"] == {"1": 14000, "2": 25000}
    assert out["bytes_per_actor"] == {"100000": 1444}
    assert out["bytes_per_actor_all_in"] == {"100000": 1861}
    assert out["memory_warm_up_mb"] == {"100000": 49.1}
    assert out["encoded_bytes_per_actor"] == {"100000": 914}
    assert out["restore_us_per_actor"] == {"100000": 0.7}
    assert out["check_latency_ms"] == m.check and out["check_latency_busy_ms"] == m.check_busy
    assert out["config"] is config and out["seconds"] == 123
    assert out["restored_bytes_per_actor"] == {"100000": 1095.0}


def test_every_run_is_kept_as_measured() -> None:
    m = measured()
    out = bench_json(m, {"loads_eps": [10000]}, 1.0)
    assert out["runs"]["throughput"] == m.throughput
    assert out["runs"]["pipeline"] == m.pipeline
    assert [r["10000"]["p99"] for r in out["runs"]["latency"]] == [400.0, 520.0, 350.0]


def test_the_table_shows_check_on_an_idle_and_on_a_busy_worker() -> None:
    rows = table(bench_json(measured(), {"runs": 3, "loads_eps": [10000]}, 1.0)).splitlines()
    idle = [r for r in rows if r.startswith("| GET /check at 1,000 requests/s offered")]
    busy = [r for r in rows if "while the worker takes 10,000 events/s" in r]
    assert len(idle) == 1 and "p99 1.70 ms" in idle[0] and "p99 ≤ 2 ms" in idle[0]
    assert len(busy) == 1 and "p50 6.00 ms, p99 70.00 ms (998/s achieved)" in busy[0]


def test_the_table_shows_memory_per_actor_and_the_warm_up_apart() -> None:
    rows = table(bench_json(measured(), {"runs": 3, "loads_eps": [10000]}, 1.0)).splitlines()
    mem = [r for r in rows if r.startswith("| state per active actor, 100,000 actors")]
    assert len(mem) == 1
    assert "1,444 B in memory (1,861 B with the warm-up's 49.1 MB), 914 B" in mem[0]


def test_the_table_says_how_busy_the_worker_was_at_each_offered_load() -> None:
    rows = table(bench_json(measured(), {"runs": 3, "loads_eps": [10000]}, 1.0)).splitlines()
    lat = [r for r in rows if r.startswith("| latency at 10,000 events/s offered")]
    assert len(lat) == 1 and "p99 400.0 ms (worker at 0.80 cores)" in lat[0]
    # runs of a bench made before the figure was measured: no figure, no claim
    old = measured()
    for run in old.latency:
        del run[10000]["worker_cores"]
    out = bench_json(old, {"runs": 3, "loads_eps": [10000]}, 1.0)
    assert out["latency_worker_cores"] == {}
    assert "worker at" not in table(out)


def test_the_table_shows_the_whole_pipeline_and_the_detector_alone_apart() -> None:
    rows = table(bench_json(measured(), {"runs": 3, "loads_eps": [10000]}, 1.0)).splitlines()
    whole = [r for r in rows if r.startswith("| throughput, 1 worker")]
    alone = [r for r in rows if r.startswith("| the detector alone")]
    assert len(whole) == 1 and "14,000 events/s" in whole[0] and "agents are done" in whole[0]
    assert len(alone) == 1 and "28,000 events/s" in alone[0]
    # runs of a bench made before the detector was timed apart: no row
    old = measured()
    for run in old.throughput:
        del run["detector_eps"]
    out = bench_json(old, {"runs": 3, "loads_eps": [10000]}, 1.0)
    assert out["detector_throughput_eps"] is None and "the detector alone" not in table(out)
