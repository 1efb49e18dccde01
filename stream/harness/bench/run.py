"""The benchmark run: throughput, latency at fixed loads, memory, CPU, baseline, scale-out."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import orjson

from stream import keys
from stream.core.policy_loader import default_policy_text
from stream.harness.bench import check_bench, workload
from stream.harness.bench.offered_load import offered_load
from stream.harness.bench.results import Measured, bench_json
from stream.harness.embedded_broker import EmbeddedBroker, free_port
from stream.harness.worker_process import WorkerProcess, wait_settled
from stream.kafka.topics import ensure_topics
from stream.kafka.writer import write_all
from stream.settings import Settings

# latency runs: an actor is challenged on its 6th request of a minute, so that a good share
# of events trigger a decision whose latency can be measured
LATENCY_POLICY = default_policy_text().replace(
    "requests_per_minute = { challenge = 180, block = 900 }",
    "requests_per_minute = { challenge = 5 }",
)


def _json(url: str) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return orjson.loads(r.read())
    except urllib.error.HTTPError as exc:
        return orjson.loads(exc.read())
    except OSError:
        return {}


def _child_bench(module: str, n: int) -> dict[str, float]:
    """The JSON line ``python -m stream.harness.bench.<module> N`` prints last (a fresh
    process: memory and CPU figures of its own)."""
    out = subprocess.run(
        [sys.executable, "-m", f"stream.harness.bench.{module}", str(n)],
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    )
    result: dict[str, float] = orjson.loads(out.stdout.strip().splitlines()[-1])
    return result


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Bench:
    def __init__(
        self,
        out: Path,
        log: Callable[[str], None] = print,
        runs: int = 3,
        events: int = 200_000,
        actors: int = 50_000,
        baseline_events: int = 8_000,
        loads: tuple[int, ...] = (2000, 10000, 20000),
        load_s: float = 6.0,
        memory_actors: tuple[int, ...] = (100_000, 1_000_000),
    ) -> None:
        self.out, self.log, self.runs = out, log, runs
        self.n, self.actors, self.n_base = events, actors, baseline_events
        self.loads, self.load_s, self.memory_actors = loads, load_s, memory_actors
        out.mkdir(parents=True, exist_ok=True)
        self.keys = keys.generate()  # shared by every worker of the bench

    # -- helpers -------------------------------------------------------------------------
    def settings(self, broker: EmbeddedBroker, app_id: str) -> Settings:
        return Settings(broker=broker.url, app_id=app_id)

    @contextlib.contextmanager
    def broker(self, app_id: str) -> Iterator[tuple[EmbeddedBroker, Settings]]:
        """An embedded broker of its own on 127.0.0.1, with ``app_id``'s topics; stopped
        when the block ends."""
        broker = EmbeddedBroker(port=free_port(), log_path=self.out / "broker.log")
        broker.start()
        try:
            s = self.settings(broker, app_id)
            ensure_topics(s)
            yield broker, s
        finally:
            broker.stop()

    def worker(
        self, broker: EmbeddedBroker, app_id: str, name: str, policy: str | None = None
    ) -> WorkerProcess:
        env = {
            "SCRAPEGUARD_BROKER": broker.url,
            "SCRAPEGUARD_APP_ID": app_id,
            "SCRAPEGUARD_WEB_PORT": str(free_port()),
            "SCRAPEGUARD_LOG_LEVEL": "warning",
            "SCRAPEGUARD_LOG_FORMAT": "json",
            "SCRAPEGUARD_DATA_DIR": str(self.out / "data"),
            **self.keys,
        }
        if policy is not None:
            path = self.out / f"{name}-policy.toml"
            path.write_text(policy)
            env["SCRAPEGUARD_POLICY_FILE"] = str(path)
        return WorkerProcess(env, self.out / f"{name}.log")

    def _publish(
        self, settings: Settings, msgs: list[tuple[bytes, bytes]], topic: str | None = None
    ) -> None:
        target = topic or settings.topic_requests
        write_all(settings, ((target, k, v, None) for k, v in msgs))

    # -- throughput ---------------------------------------------------------------------
    def throughput(self, workers: int = 1) -> dict[str, float]:
        with self.broker("bench") as (broker, s):
            return self._throughput(broker, s, workers)

    def _throughput(self, broker: EmbeddedBroker, s: Settings, workers: int) -> dict[str, float]:
        procs: list[WorkerProcess] = []
        try:
            msgs = [(k, v) for k, v, _ in workload.events(self.n, self.actors, time.time() - 7200)]
            self._publish(s, msgs)
            procs = [self.worker(broker, "bench", f"worker{i}") for i in range(workers)]
            for p in procs:  # spawn all before waiting, so that they join together
                p.spawn()
            for p in procs:
                p.wait_ready()
            urls = [f"http://127.0.0.1:{p.web_port}/health" for p in procs]
            t_first = t_last = None
            cpu0: list[float] = []
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                done = sum(_json(u).get("events", 0) for u in urls)
                now = time.monotonic()
                if done > 0 and t_first is None:
                    t_first = now
                    cpu0 = [_cpu_s(p.proc.pid) for p in procs if p.proc]
                if done >= self.n:
                    t_last = now
                    break
                time.sleep(0.05)  # each poll is a request the measured worker serves
            assert t_first is not None and t_last is not None, "workers did not finish"
            # the whole pipeline: until the correlator and the incidents agent have worked
            # what the detector sent them, and the detector the group signals that came of it
            wait_settled(s, lambda: [_json(u) for u in urls], timeout_s=600, poll_s=0.25)
            t_settled = time.monotonic()
            cpu = sum(_cpu_s(p.proc.pid) for p in procs if p.proc) - sum(cpu0)
            return {
                "eps": self.n / (t_settled - t_first),
                "seconds": t_settled - t_first,
                "detector_eps": self.n / (t_last - t_first),
                "agents_behind_s": t_settled - t_last,
                "cpu_s_per_1k": cpu / self.n * 1000,
                "peak_rss_mb": max(_hwm_mb(p.proc.pid) for p in procs if p.proc),
            }
        finally:
            for p in procs:
                p.stop()

    def baseline(self) -> dict[str, float]:
        """The naive Faust build (per-event tables and model) on ``baseline_events``."""
        return self._progress_run(
            "baseline",
            [sys.executable, "-m", "stream.harness.bench.baseline", "worker", "-l", "warn"],
            self.n_base,
            lambda broker, port: {
                "BENCH_BROKER": broker.url,
                "BENCH_WEB_PORT": str(port),
                "BENCH_DATADIR": str((self.out / "naive-data").resolve()),
            },
        )

    def faust_agent(self) -> dict[str, float]:
        """The detector's own pipeline as a genuine Faust agent, on the throughput mix."""
        return self._progress_run(
            "faust-agent",
            [sys.executable, "-m", "stream.harness.bench.faust_detector", "worker", "-l", "warn"],
            self.n,
            lambda broker, port: {
                "SCRAPEGUARD_BROKER": broker.url,
                "SCRAPEGUARD_APP_ID": "bench",
                "SCRAPEGUARD_WEB_PORT": str(port),
                "SCRAPEGUARD_DATA_DIR": str((self.out / "faust-agent-data").resolve()),
                "SCRAPEGUARD_LOG_LEVEL": "warning",
            },
        )

    def _progress_run(
        self,
        name: str,
        command: list[str],
        n: int,
        env_for: Callable[[EmbeddedBroker, int], dict[str, str]],
    ) -> dict[str, float]:
        """Publish ``n`` events, run ``command`` and read its ``/progress`` until done."""
        with self.broker("bench") as (broker, s):
            return self._progress(name, command, n, broker, s, env_for)

    def _progress(
        self,
        name: str,
        command: list[str],
        n: int,
        broker: EmbeddedBroker,
        s: Settings,
        env_for: Callable[[EmbeddedBroker, int], dict[str, str]],
    ) -> dict[str, float]:
        proc = None
        try:
            msgs = [(k, v) for k, v, _ in workload.events(n, self.actors, time.time() - 7200)]
            self._publish(s, msgs)
            port = free_port()
            log = open(self.out / f"{name}.log", "wb")  # noqa: SIM115
            proc = subprocess.Popen(
                command,
                env={**os.environ, **env_for(broker, port)},
                stdout=log,
                stderr=log,
                cwd=self.out,
            )
            deadline = time.monotonic() + 600
            prog: dict[str, Any] = {}
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited ({proc.returncode}); see {self.out / f'{name}.log'}"
                    )
                prog = _json(f"http://127.0.0.1:{port}/progress")
                if prog.get("events", 0) >= n:
                    break
                time.sleep(0.2)
            if not prog.get("first"):
                raise RuntimeError(f"{name} processed nothing; see {name}.log")
            span = (prog["last"] or time.time()) - prog["first"]
            return {"eps": prog["events"] / span, "events": prog["events"], "seconds": span}
        finally:
            if proc is not None:
                proc.kill()
                proc.wait()

    # -- latency ------------------------------------------------------------------------
    def latency(self) -> dict[int, dict[str, float]]:
        with self.broker("lat") as (broker, s):
            w = self.worker(broker, "lat", "latency", LATENCY_POLICY)
            try:
                w.start()
                assert w.proc is not None
                cpu = partial(_cpu_s, w.proc.pid)
                return asyncio.run(
                    offered_load(s, self.loads, self.load_s, log=self.log, worker_cpu_s=cpu)
                )
            finally:
                w.stop()

    # -- /check ------------------------------------------------------------------------
    def check_latency(
        self, rates: tuple[int, ...] = (1000, 10000), seconds: float = 5.0
    ) -> dict[str, dict[str, Any]]:
        """``/check`` under an open-loop load (:mod:`.check_bench`)."""
        return check_bench.check_latency(self, rates, seconds)

    def check_latency_busy(self) -> dict[str, dict[str, Any]]:
        """``/check`` at 1k/s while the worker takes 10k events/s (:mod:`.check_bench`)."""
        return check_bench.check_latency_busy(self)

    # -- memory -------------------------------------------------------------------------
    def memory(self, n: int) -> dict[str, float]:
        return _child_bench("memory", n)

    def restore(self, n: int) -> dict[str, float]:
        """A restore of ``n`` actors' changelog bytes (:mod:`.restore`, the worker's way)."""
        return _child_bench("restore", n)

    # -- the pure pipeline ------------------------------------------------------------
    def pipeline(self) -> dict[str, float]:
        """Microseconds per event of the pure core, offline (:mod:`.pipeline`)."""
        return _child_bench("pipeline", self.n)

    # -- all ----------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        """Every figure of ``bench.json`` (:mod:`.results`)."""
        started = time.monotonic()
        m = Measured()
        for i in range(self.runs):
            m.pipeline.append(self.pipeline())
            us = m.pipeline[-1]["us_per_event"]
            self.log(f"bench: run {i + 1}: pure pipeline {us:.1f} µs/event")
            m.throughput.append(self.throughput())
            self.log(f"bench: run {i + 1}: scrapeguard {m.throughput[-1]['eps']:,.0f} events/s")
            m.baseline.append(self.baseline())
            eps = m.baseline[-1]["eps"]
            self.log(f"bench: run {i + 1}: naive Faust baseline {eps:,.0f} events/s")
            m.faust_agent.append(self.faust_agent())
            eps = m.faust_agent[-1]["eps"]
            self.log(f"bench: run {i + 1}: detector as a Faust agent {eps:,.0f} events/s")
            m.latency.append(self.latency())
        m.check = self.check_latency()
        m.check_busy = self.check_latency_busy()
        m.two_workers = self.throughput(workers=2)
        self.log(f"bench: 2 workers: {m.two_workers['eps']:,.0f} events/s")
        for n in self.memory_actors:
            mem = m.memory[n] = self.memory(n)
            self.log(
                f"bench: {n:,} actors: {mem['rss_bytes_per_actor']:.0f} B/actor in "
                f"memory ({mem['rss_bytes_per_actor_all_in']:.0f} with the warm-up's "
                f"{mem['warm_up_bytes'] / 1e6:.0f} MB), "
                f"{mem['encoded_bytes_per_actor']:.0f} B in the changelog"
            )
            rest = m.restore[n] = self.restore(n)
            self.log(
                f"bench: restore of {n:,} actors: {rest['restore_us_per_actor']:.1f} µs "
                f"and {rest['rss_bytes_per_actor']:.0f} B per actor"
            )
        workers = Settings()
        config = {
            "runs": self.runs,
            "events": self.n,
            "actors": self.actors,
            "baseline_events": self.n_base,
            "loads_eps": list(self.loads),
            "load_seconds": self.load_s,
            # the workers' (they inherit this environment): docs/performance.md
            "gil_switch_interval_ms": workers.gil_switch_interval_ms,
            "gc_young_threshold": workers.gc_young_threshold,
        }
        return bench_json(m, config, time.monotonic() - started)
