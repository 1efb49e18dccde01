"""Built-in demo traffic for ``scrapeguard run``: people, one bulk scraper, one new account.

:class:`DemoMix` is pure and deterministic (seeded): ``events(t0, t1)`` yields the
request events whose event time falls in ``[t0, t1)``. :class:`DemoPublisher` sends
them to ``requests`` in real time, as a platform service would.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import structlog
from aiokafka import AIOKafkaProducer
from mode import Service

from stream.kafka.config import aiokafka_kwargs
from stream.settings import Settings

log = structlog.get_logger(__name__)

BROWSER_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0 Safari/537.36"
)
SCRAPER_UA = "python-requests/2.32.3"
OTHER_PATHS = ("/feed", "/messages", "/notifications", "/search", "/settings")


@dataclass
class _Actor:
    account_id: str
    ip: str
    user_agent: str
    created_ts: float
    next_ts: float
    kind: str
    counter: int = 0


class DemoMix:
    """Seeded generator of the demo personas, in event time."""

    def __init__(
        self,
        start_ts: float,
        humans: int = 6,
        seed: int = 7,
        scraper_rate: float = 12.0,
        newbie_rate: float = 3.0,
    ) -> None:
        self.rng = random.Random(seed)
        self.scraper_rate = scraper_rate
        self.newbie_rate = newbie_rate
        old = start_ts - 400 * 86400
        self.actors = [
            _Actor(
                f"demo-human-{i}",
                f"198.51.100.{10 + i}",
                BROWSER_UA,
                old - i * 86400,
                start_ts + self.rng.uniform(0, 5),
                "human",
            )
            for i in range(humans)
        ]
        self.actors.append(
            _Actor(
                "demo-scraper-1", "203.0.113.66", SCRAPER_UA, old, start_ts + 2.0, "bulk_scraper"
            )
        )
        self.actors.append(
            _Actor(
                "demo-newbie-1",
                "192.0.2.44",
                BROWSER_UA,
                start_ts - 3600,
                start_ts + 4.0,
                "new_account_aggressive",
            )
        )
        self.friends = {
            a.account_id: [str(self.rng.randint(1, 10**6)) for _ in range(25)] for a in self.actors
        }
        self._seq = 0

    def labels(self) -> dict[str, str]:
        return {"account:" + a.account_id: a.kind for a in self.actors}

    def events(self, t0: float, t1: float) -> Iterator[dict[str, Any]]:
        """Every event with ``t0 <= ts < t1``, in time order per actor."""
        out: list[dict[str, Any]] = []
        for actor in self.actors:
            while actor.next_ts < t1:
                if actor.next_ts >= t0:
                    out.append(self._event(actor, actor.next_ts))
                actor.next_ts += self._gap(actor)
        out.sort(key=lambda e: e["ts"])
        yield from out

    def _gap(self, actor: _Actor) -> float:
        if actor.kind == "bulk_scraper":
            return 1.0 / self.scraper_rate
        if actor.kind == "new_account_aggressive":
            return self.rng.uniform(0.5, 1.5) / self.newbie_rate
        # people read: mostly 3-20 s between requests, sometimes a long pause
        return self.rng.expovariate(1 / 8.0) + (30.0 if self.rng.random() < 0.05 else 1.0)

    def _event(self, actor: _Actor, ts: float) -> dict[str, Any]:
        self._seq += 1
        actor.counter += 1
        target: str | None
        if actor.kind == "human":
            if self.rng.random() < 0.45:
                target = self.rng.choice(self.friends[actor.account_id])
                path = "/profiles/{id}"
            else:
                target, path = None, self.rng.choice(OTHER_PATHS)
        elif actor.kind == "bulk_scraper":
            target, path = str(4_000_000 + actor.counter), "/profiles/{id}"
        else:
            target, path = str(self.rng.randint(1, 10**7)), "/profiles/{id}"
        return {
            "event_id": f"demo-{int(ts * 1000)}-{self._seq}",
            "ts": round(ts, 3),
            "account_id": actor.account_id,
            "session_id": f"s-{actor.account_id}",
            "ip": actor.ip,
            "user_agent": actor.user_agent,
            "method": "GET",
            "path": path,
            "status": 200,
            "target_profile_id": target,
            "account_created_ts": actor.created_ts,
            "fields": ["name", "headline", "location"] if target else None,
        }


class DemoPublisher(Service):
    """Publishes :class:`DemoMix` to ``requests`` in real time (event time = now)."""

    def __init__(self, settings: Settings, seed: int = 7, **kwargs: Any) -> None:
        self.settings = settings
        self.seed = seed
        self.sent = 0
        self._producer: AIOKafkaProducer | None = None
        super().__init__(**kwargs)

    async def on_start(self) -> None:
        self._producer = AIOKafkaProducer(linger_ms=5, **aiokafka_kwargs(self.settings))
        await self._producer.start()

    async def on_stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()

    @Service.task
    async def _publish(self) -> None:
        producer = self._producer
        assert producer is not None
        mix = DemoMix(time.time(), seed=self.seed)
        t0 = time.time()
        while not self.should_stop:
            await asyncio.sleep(0.2)
            t1 = time.time()
            for ev in mix.events(t0, t1):
                await producer.send(
                    self.settings.topic_requests,
                    orjson.dumps(ev),
                    key=f"account:{ev['account_id']}".encode(),
                )
                self.sent += 1
            t0 = t1
