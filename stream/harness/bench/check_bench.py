"""The ``/check`` bench: a worker holding 10,000 decisions (blocked and challenged
accounts, blocked ranges) answers ``/check`` under an open-loop load from a second process
(:mod:`.check_load`), at each offered rate (``bench.json``'s ``check_latency_ms``), and
at 1k/s while the worker also takes 10,000 events/s (``check_latency_busy_ms``)."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import orjson

from stream.core.bouncer_keys import hash_key, new_key
from stream.core.operator_records import BouncerKey
from stream.core.records import Decision
from stream.harness.bench.offered_load import offered_load
from stream.harness.worker_process import WorkerProcess
from stream.kafka.writer import write_all

if TYPE_CHECKING:
    from stream.harness.bench.run import Bench
    from stream.settings import Settings


def check_latency(
    bench: Bench, rates: tuple[int, ...] = (1000, 10000), seconds: float = 5.0
) -> dict[str, dict[str, Any]]:
    """``/check`` answered by an otherwise idle worker holding 10,000 decisions (accounts,
    ranges), under an open-loop load from a second process (:mod:`.check_load`)."""
    with _worker_with_decisions(bench) as (w, key, _s):
        results: dict[str, dict[str, Any]] = {}
        for rate in rates:
            r = results[str(rate)] = _load(w.web_port, key, rate, seconds)
            bench.log(
                f"bench: /check at {rate:,}/s offered: p50 {r['p50']:.2f} ms, "
                f"p99 {r['p99']:.2f} ms ({r['achieved_rps']:,}/s achieved, {r['statuses']})"
            )
        return results


def check_latency_busy(
    bench: Bench, rate: int = 1000, events_eps: int = 10000, seconds: float = 4.0
) -> dict[str, dict[str, Any]]:
    """``/check`` as a gateway meets it: the same worker and load as
    :func:`check_latency`, while the worker also takes ``events_eps`` request events a
    second (the latency bench's open-loop load). The batch runs in a thread beside the HTTP
    server's event loop, and Python lets one of them run at a time."""
    with _worker_with_decisions(bench) as (w, key, s):
        res: dict[str, Any] = {}
        sending = threading.Event()

        def load() -> None:
            if not sending.wait(timeout=60.0):
                res["error"] = "the event load never started"
                return
            time.sleep(1.0)  # well inside the event load: it lasts seconds + 4
            try:
                res["check"] = _load(w.web_port, key, rate, seconds)
            except Exception as exc:  # reported below, with the load's own words
                stderr = getattr(exc, "stderr", None) or ""
                res["error"] = f"{exc!r} {stderr[-2000:]}"

        t = threading.Thread(target=load)
        t.start()
        try:
            events = asyncio.run(
                offered_load(s, (events_eps,), seconds + 4.0, sending=sending, log=bench.log)
            )
        finally:
            sending.set()  # never leave the load waiting
            t.join()
        if "check" not in res:
            raise RuntimeError(f"the /check load failed: {res.get('error')}")
        r = {
            **res["check"],
            "events_eps": events_eps,
            "decisions_p99_ms": events[events_eps]["p99"],  # default policy: few decisions
        }
        bench.log(
            f"bench: /check at {rate:,}/s offered while the worker takes {events_eps:,} "
            f"events/s: p50 {r['p50']:.2f} ms, p99 {r['p99']:.2f} ms "
            f"({r['achieved_rps']:,}/s achieved, {r['statuses']})"
        )
        return {str(rate): r}


def _load(port: int, key: str, rate: int, seconds: float) -> dict[str, Any]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "stream.harness.bench.check_load",
            str(port),
            key,
            str(rate),
            str(seconds),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds * 25 + 60,
    )
    result: dict[str, Any] = orjson.loads(out.stdout.strip().splitlines()[-1])
    return result


@contextlib.contextmanager
def _worker_with_decisions(bench: Bench) -> Iterator[tuple[WorkerProcess, str, Settings]]:
    """A broker and a worker that holds 10,000 decisions and one bouncer key (yielded)."""
    with bench.broker("chk") as (broker, s):
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
        try:
            w.start()
            yield w, key, s
        finally:
            w.stop()
