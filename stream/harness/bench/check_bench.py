"""The ``/check`` bench: a worker holding 10,000 decisions (blocked and challenged
accounts, blocked ranges) answers ``/check`` under an open-loop load from a second process
(:mod:`.check_load`), at each offered rate; ``bench.json``'s ``check_latency_ms``."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

import orjson

from stream.core.bouncer_keys import hash_key, new_key
from stream.core.operator_records import BouncerKey
from stream.core.records import Decision
from stream.harness.embedded_broker import EmbeddedBroker, free_port
from stream.kafka.topics import ensure_topics
from stream.kafka.writer import write_all

if TYPE_CHECKING:
    from stream.harness.bench.run import Bench


def check_latency(
    bench: Bench, rates: tuple[int, ...] = (1000, 10000), seconds: float = 5.0
) -> dict[str, dict[str, Any]]:
    """``/check`` answered by a worker holding 10,000 decisions (accounts, ranges),
    under an open-loop load from a second process (:mod:`.check_load`)."""
    broker = EmbeddedBroker(port=free_port(), log_path=bench.out / "broker.log")
    broker.start()
    w = None
    try:
        s = bench.settings(broker, "chk")
        ensure_topics(s)
        key = new_key()
        now = time.time()
        msgs: list[tuple[str, bytes | None, bytes | None, int | None]] = [
            (s.bouncers_topic, b"bench", BouncerKey("bench", hash_key(key), now).encode(), None)
        ]
        actors = [f"account:chk-blocked-{i}" for i in range(5000)]
        actors += [f"account:chk-challenged-{i}" for i in range(5000)]
        actors += [f"range:10.77.{i}.0/24" for i in range(0, 256, 2)]
        for i, actor in enumerate(actors):
            action = "challenge" if "challenged" in actor else "block"
            d = Decision(
                f"{i:032x}", actor, action, ["bench"], 0.0, "hst@1", 3600, now + 3600, now
            )
            msgs.append((s.topic_decisions, actor.encode(), d.encode(), None))
        write_all(s, msgs)
        w = bench.worker(broker, "chk", "check")
        w.start()
        results: dict[str, dict[str, Any]] = {}
        for rate in rates:
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "stream.harness.bench.check_load",
                    str(w.web_port),
                    key,
                    str(rate),
                    str(seconds),
                ],
                capture_output=True,
                text=True,
                check=True,
                timeout=seconds * 25 + 60,
            )
            r = orjson.loads(out.stdout.strip().splitlines()[-1])
            results[str(rate)] = r
            bench.log(
                f"bench: /check at {rate:,}/s offered: p50 {r['p50']:.2f} ms, "
                f"p99 {r['p99']:.2f} ms ({r['achieved_rps']:,}/s achieved, {r['statuses']})"
            )
        return results
    finally:
        if w is not None:
            w.stop()
        broker.stop()
