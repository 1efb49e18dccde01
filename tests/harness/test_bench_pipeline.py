import pytest

from stream.core.scoring import CHECKPOINT_EVERY
from stream.harness.bench import gil, memory, pipeline, restore


def test_pipeline_bench_times_the_second_half_of_the_mix() -> None:
    r = pipeline.measure(4000)
    # the timed half of each of the 8 partitions (odd ones round up), every event counted
    assert 2000 <= r["events"] <= 2008
    assert r["us_per_event"] > 0
    assert r["events_per_s"] == pytest.approx(1e6 / r["us_per_event"], rel=0.01)


def test_memory_bench_keeps_the_hot_tier_it_is_given() -> None:
    r = memory.main(3000, hot=64, warm=500)
    assert r["actors"] == 3500  # the warm-up's actors and the measured ones, all distinct
    # 8 partitions, each past 64 actors, each actor seen in one batch: probation's half
    assert r["hot_actors"] == 8 * 32
    assert r["encoded_bytes_per_actor"] > 0


def test_memory_bench_twice_brings_every_actor_back_while_decoded() -> None:
    r = memory.main(3000, hot=64, warm=500, twice=True)
    assert r["actors"] == 3500  # a re-delivery makes no actor
    assert r["hot_actors"] == 8 * 64  # back in a later batch: the whole hot tier fills


def test_memory_bench_warm_up_teaches_every_partitions_models() -> None:
    # the measured actors never teach (1-4 events): the models' trees and their last good
    # copy must be built by the warm-up, or they count as the measured actors' memory
    dets = memory.detectors()
    memory.feed(
        dets, memory.WARM_ACTORS, prefix="w", events=memory.WARM_EVENTS, gap_s=memory.WARM_GAP_S
    )
    learns = [d.guard("live")._learns for d in dets]  # type: ignore[union-attr]
    assert min(learns) >= CHECKPOINT_EVERY, learns  # a last good copy of the built trees


def test_pipeline_bench_can_freeze_the_collector_as_the_worker_does() -> None:
    r = pipeline.measure(4000, gc_freeze=1)
    assert r["gc_freeze"] == 1 and 2000 <= r["events"] <= 2008


@pytest.mark.parametrize("mode", ["raw", "packed", "decoded"])
def test_restore_bench_restores_every_actor(mode: str) -> None:
    r = restore.main(2000, mode)
    assert r["actors"] == 2000 and r["watermark_set"]
    assert r["restore_us_per_actor"] > 0
    # the worker's way decodes nothing at restore; the old one decoded the hot tier's worth
    assert r["hot_actors"] == (2000 if mode == "decoded" else 0)
    assert ("packed_bytes_per_actor" in r) == (mode == "raw")


def test_gil_bench_times_every_call_alone_and_contended() -> None:
    r = gil.measure(10)
    assert set(r) == set(gil.calls())
    assert all(v["alone_us"] > 0 and v["contended_us"] > 0 for v in r.values())
