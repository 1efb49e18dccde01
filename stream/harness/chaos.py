"""The chaos harness: crash workers, move partitions, flood bad input — then audit.

1. a known event set (people and a few bulk scrapers, each actor on its own /24, so every
   decision is a deterministic rule decision) and ``malformed`` bad messages of every kind
   are cut into chunks and published while
2. the worker is killed with SIGKILL at random moments (``trials`` times) and restarted,
   and partitions move 2 → 1 → 2 workers while events flow;
3. then everything is recomputed from scratch (:mod:`stream.harness.audit`) and compared with the
   states in the changelog, the dead letters and the decisions.

Everything runs on 127.0.0.1 and ends by itself.
"""

from __future__ import annotations

import os
import random
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from stream import keys
from stream.core.actor_codec import decode
from stream.core.actor_state import ActorState
from stream.core.policy_loader import parse_policy
from stream.core.records import DeadLetter, Decision
from stream.core.subkeys import hash_key
from stream.harness.audit import AuditResult, KRecord, audit, from_scratch
from stream.harness.embedded_broker import EmbeddedBroker, free_port
from stream.harness.worker_process import WorkerProcess
from stream.kafka.read_to_end import read_all
from stream.kafka.topics import ensure_topics
from stream.kafka.writer import write_all
from stream.settings import Settings

# the packaged policy without score-based decisions (over the defaults, key by key): the
# audit recomputes every decision from the events alone, and a model's score depends on
# what it learned, in which order, across restarts
CHAOS_POLICY = "[score]\nchallenge = 1.0\n"


def good_events(n: int, rng: random.Random, now: float) -> list[tuple[bytes, bytes]]:
    """About ``n`` valid events: people, and one bulk scraper per ~1,500 events."""
    out: list[tuple[float, bytes, bytes]] = []
    scrapers = max(1, n // 1500)
    people = max(1, (n - scrapers * 600) // 40)
    # a person's events span up to 60 × 225 s (3.75 h) from up to 30 min after the start:
    # starting 5 h ago, every event is in the past (one in the future would be dead-lettered
    # as ts_in_future, as a producer with a clock hours ahead should be)
    start = now - 5 * 3600
    for a in range(people + scrapers):
        account, ip = f"chaos-{a}", f"10.{a // 250}.{a % 250}.1"
        scraper = a >= people
        count, step = (600, 2.0) if scraper else (rng.randint(20, 60), rng.uniform(60, 150))
        t = start + rng.uniform(0, 1800)
        for i in range(count):
            target = (
                str(7_000_000 + a * 1000 + i)
                if scraper
                else (str(rng.randint(1, 40)) if rng.random() < 0.4 else None)
            )
            doc = {
                "event_id": f"{account}-{i}",
                "ts": round(t, 3),
                "account_id": account,
                "ip": ip,
                "user_agent": "Mozilla/5.0",
                "path": "/profiles/{id}",
                "status": 404 if rng.random() < 0.02 else 200,
                "target_profile_id": target,
            }
            out.append((t, f"account:{account}".encode(), orjson.dumps(doc)))
            t += step * rng.uniform(0.5, 1.5)
    out.sort(key=lambda x: x[0])
    return [(k, v) for _, k, v in out]


def bad_messages(n: int, rng: random.Random, now: float) -> list[tuple[bytes | None, bytes]]:
    """``n`` messages that must all be dead-lettered: every kind a producer can get wrong."""
    base = {
        "event_id": "x",
        "ts": now - 60,
        "account_id": "bad",
        "ip": "10.255.0.1",
        "path": "/p",
        "status": 200,
    }
    good = orjson.dumps(base)
    kinds = [
        lambda: good[: rng.randint(1, len(good) - 2)],  # truncated JSON
        lambda: b"\xff\xfe" + good[2:],  # invalid UTF-8
        lambda: good[:10] + b"\x00" + good[10:],  # a null byte
        lambda: b"[" * 5000 + b"]" * 5000,  # deep nesting
        lambda: b'{"a":' * 3000 + b"1" + b"}" * 3000,
        lambda: orjson.dumps({**base, "status": "200"}),  # wrong types
        lambda: orjson.dumps({**base, "ts": [1]}),
        lambda: orjson.dumps({**base, "account_id": {"id": 1}}),
        lambda: orjson.dumps({**base, "fields": "name"}),
        lambda: orjson.dumps({**base, "ts": 1e15}),  # absurd timestamps
        lambda: orjson.dumps({**base, "ts": -5}),
        lambda: orjson.dumps({**base, "ts": "0000-00-00"}),
        lambda: orjson.dumps({**base, "account_id": None, "ip": None}),  # no identity
        lambda: orjson.dumps(rng.choice([123, "text", None, [1, 2], True])),  # not an object
        lambda: b"",
        lambda: orjson.dumps({**base, "ip": "999.1.1.1"}),
    ]
    out: list[tuple[bytes | None, bytes]] = []
    for i in range(n):
        value = (
            orjson.dumps({**base, "user_agent": "x" * 70_000})
            if i % 500 == 0
            else rng.choice(kinds)()
        )  # a few huge ones
        out.append((rng.choice([None, b"account:bad", os.urandom(8)]), value))
    return out


@dataclass
class ChaosReport:
    trials: int = 0
    rebalances: int = 0
    outages: int = 0
    events: int = 0
    malformed: int = 0
    restarts_s: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    audit: AuditResult | None = None
    seconds: float = 0.0

    def line(self) -> str:
        a = self.audit
        assert a is not None
        return (
            f"chaos: trials={self.trials} events={self.events} malformed={self.malformed} "
            f"unaccounted={a.unaccounted} double_counted={a.double_counted}"
        )


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Chaos:
    def __init__(
        self,
        settings: Settings,
        workdir: Path,
        *,
        trials: int,
        events: int,
        malformed: int,
        seed: int = 1,
        rebalance: bool = True,
        broker: EmbeddedBroker | None = None,
        outage_s: float = 20.0,
        log: Any = print,
    ) -> None:
        self.workdir = workdir
        self.trials, self.n_events, self.n_bad = trials, events, malformed
        self.rng = random.Random(seed)
        self.rebalance = rebalance
        self.broker, self.outage_s = broker, outage_s
        self.published = (0, 0)
        self.log = log
        self.settings = settings
        self.app_id, broker_url = settings.app_id, settings.broker
        workdir.mkdir(parents=True, exist_ok=True)
        policy = workdir / "policy.toml"
        policy.write_text(CHAOS_POLICY)
        self.policy = parse_policy(CHAOS_POLICY)
        self.env = {
            "SCRAPEGUARD_BROKER": broker_url,
            "SCRAPEGUARD_APP_ID": self.app_id,
            "SCRAPEGUARD_POLICY_FILE": str(policy),
            "SCRAPEGUARD_LOG_FORMAT": "json",
            "SCRAPEGUARD_LOG_LEVEL": "warning",
            "SCRAPEGUARD_SNAPSHOT_EVERY_S": "5",
            "SCRAPEGUARD_GROUP_SESSION_TIMEOUT_S": str(settings.group_session_timeout_s),
            "SCRAPEGUARD_DATA_DIR": str(workdir / "data"),
            "SCRAPEGUARD_TOPIC_REQUESTS": settings.topic_requests,
            "SCRAPEGUARD_TOPIC_DECISIONS": settings.topic_decisions,
            "SCRAPEGUARD_TOPIC_DEADLETTER": settings.topic_deadletter,
            "SCRAPEGUARD_TOPIC_CONTROL": settings.topic_control,
            "SCRAPEGUARD_TOPIC_INCIDENTS": settings.topic_incidents,
            **keys.generate(),  # every worker of the run holds the same random keys
        }

    def _worker(self, name: str) -> WorkerProcess:
        return WorkerProcess(
            {**self.env, "SCRAPEGUARD_WEB_PORT": str(free_port())}, self.workdir / f"{name}.log"
        )

    def _publish(self, chunk: list[tuple[bytes | None, bytes]]) -> None:
        topic = self.settings.topic_requests
        write_all(self.settings, ((topic, k, v, None) for k, v in chunk))

    def run(self) -> ChaosReport:
        started = time.monotonic()
        now = time.time()
        rep = ChaosReport()
        ensure_topics(self.settings)
        good = good_events(self.n_events, self.rng, now)
        bad = bad_messages(self.n_bad, self.rng, now)
        rep.events, rep.malformed = len(good), len(bad)
        self.published = (len(good), len(bad))
        # interleave the bad input with the good at random places, keeping the good in order
        keyed: list[tuple[float, int, tuple[bytes | None, bytes]]] = [
            (i / len(good), 0, msg) for i, msg in enumerate(good)
        ]
        keyed += [(self.rng.random(), 1, msg) for msg in bad]
        keyed.sort(key=lambda x: (x[0], x[1]))
        mixed: list[tuple[bytes | None, bytes]] = [msg for _, _, msg in keyed]
        phases = self.trials + (3 if self.rebalance else 0) + (1 if self.broker else 0) + 1
        n = len(mixed)
        chunks = [mixed[k * n // phases : (k + 1) * n // phases] for k in range(phases)]
        a = self._worker("worker-a")
        a.start()
        b: WorkerProcess | None = None
        for i, chunk in enumerate(chunks):
            self._publish(chunk)
            if i < self.trials:  # crash: SIGKILL at a random moment, then restart
                time.sleep(self.rng.uniform(0.1, 2.5))
                assert a.proc is not None
                rep.rss_mb.append(_rss_mb(a.proc.pid))
                a.stop(signal.SIGKILL)
                t = time.monotonic()
                a.start()
                rep.restarts_s.append(time.monotonic() - t)
                rep.trials += 1
                self.log(
                    f"chaos: trial {rep.trials}/{self.trials}: killed and restarted in "
                    f"{rep.restarts_s[-1]:.1f}s"
                )
            elif self.rebalance and i < self.trials + 3:
                step = i - self.trials  # 0: 1 → 2 workers, 1: 2 → 1, 2: 1 → 2
                if step in (0, 2):
                    b = self._worker("worker-b")
                    b.start()
                elif b is not None:
                    b.stop()
                rep.rebalances += 1
                self.log(f"chaos: rebalance {rep.rebalances}: {'2' if step != 1 else '1'} workers")
            elif self.broker is not None and rep.outages == 0:
                # the broker stops answering for longer than the group session timeout
                time.sleep(self.rng.uniform(0.2, 1.0))
                self.broker.pause()
                time.sleep(self.outage_s)
                self.broker.resume()
                rep.outages += 1
                self.log(f"chaos: broker outage of {self.outage_s:.0f}s; workers left alone")
        rep.audit = self._settle()
        if a.proc is not None:
            rep.rss_mb.append(_rss_mb(a.proc.pid))
        for w in (a, b):
            if w is not None:
                w.stop()
        rep.seconds = time.monotonic() - started
        return rep

    def _settle(self, timeout_s: float = 300.0) -> AuditResult:
        """Audit until the workers have caught up (or time runs out)."""
        deadline = time.monotonic() + timeout_s
        while True:
            result = self._audit()
            if result.ok or time.monotonic() > deadline:
                return result
            self.log(
                f"chaos: waiting for the workers to catch up ({result.unaccounted} "
                "events not counted yet)"
            )
            time.sleep(5)

    def _audit(self) -> AuditResult:
        s = self.settings
        records = [
            KRecord(r.partition, r.offset, r.key, r.value) for r in read_all(s, s.topic_requests)
        ]
        key = hash_key(self.env["SCRAPEGUARD_PSEUDONYM_KEY"].encode())
        exp_states, exp_decisions, exp_dead = from_scratch(
            records, self.policy, s.topic_requests, time.time(), key=key
        )
        actual: dict[str, ActorState] = {}
        for r in read_all(s, s.state_topic):
            if r.key is None:
                continue
            if r.value is None:
                actual.pop(r.key.decode(), None)
            else:
                actual[r.key.decode()] = decode(r.value)
        decisions = [Decision.decode(r.value) for r in read_all(s, s.topic_decisions)]
        dead = [DeadLetter.decode(r.value) for r in read_all(s, s.topic_deadletter)]
        return audit(
            expected_states=exp_states,
            expected_decisions=exp_decisions,
            expected_dead=exp_dead,
            actual_states=actual,
            decisions=decisions,
            deadletters=dead,
            events_published=self.published[0],
            malformed_published=self.published[1],
        )
