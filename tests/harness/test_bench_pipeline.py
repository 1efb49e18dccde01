import pytest

from stream.harness.bench import memory, pipeline


def test_pipeline_bench_times_the_second_half_of_the_mix() -> None:
    r = pipeline.measure(4000)
    # the timed half of each of the 8 partitions (odd ones round up), every event counted
    assert 2000 <= r["events"] <= 2008
    assert r["us_per_event"] > 0
    assert r["events_per_s"] == pytest.approx(1e6 / r["us_per_event"], rel=0.01)


def test_memory_bench_keeps_the_hot_tier_it_is_given() -> None:
    r = memory.main(3000, hot=64)
    assert r["actors"] == 3000
    assert r["hot_actors"] == 8 * 64  # 8 partitions, each past 64 actors
    assert r["encoded_bytes_per_actor"] > 0
