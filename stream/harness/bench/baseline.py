"""The naive build a first attempt would be: one Faust agent, per-event everything.

Per event: a Faust ``Record`` is parsed, windowed ``Table`` updates are made for requests
per minute/hour/day and profile views per hour (tumbling windows: one changelogged write
each — the sliding hour with minute resolution would take 60 writes per event with
hopping windows), a per-actor list of profiles is kept in a table, and River's
``MinMaxScaler → HalfSpaceTrees`` scores and learns. Run as
``python -m stream.harness.bench.baseline worker``; ``/progress`` says how many events it did.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta
from typing import Any

import faust
from river import anomaly, preprocessing

BROKER = os.environ.get("BENCH_BROKER", "kafka://127.0.0.1:9092")
TOPIC = os.environ.get("BENCH_TOPIC", "requests")

app = faust.App(
    os.environ.get("BENCH_APP_ID", "naive-baseline"),
    broker=BROKER,
    store="memory://",
    topic_partitions=8,
    web_port=int(os.environ.get("BENCH_WEB_PORT", "6070")),
    web_host="127.0.0.1",
    broker_rebalance_timeout=10,
    broker_session_timeout=10,
    datadir=os.environ.get("BENCH_DATADIR", "naive-baseline-data"),
)


class Event(faust.Record, serializer="json"):
    event_id: str
    ts: float
    account_id: str | None
    ip: str | None
    path: str
    status: int
    target_profile_id: str | None = None


requests = app.topic(TOPIC, key_type=bytes, value_type=Event)
per_minute = app.Table("per_minute", default=int).tumbling(60, expires=timedelta(hours=2))
per_hour = app.Table("per_hour", default=int).tumbling(3600, expires=timedelta(hours=2))
per_day = app.Table("per_day", default=int).tumbling(86400, expires=timedelta(days=2))
views_hour = app.Table("views_hour", default=int).tumbling(3600, expires=timedelta(hours=2))
profiles = app.Table("profiles", default=list)
model = preprocessing.MinMaxScaler() | anomaly.HalfSpaceTrees(seed=42)
progress: dict[str, Any] = {"events": 0, "first": None, "last": None}


@app.agent(requests)
async def detect(stream: Any) -> None:
    async for key, ev in stream.items():
        if progress["first"] is None:
            progress["first"] = time.time()
        actor = key.decode()
        per_minute[actor] += 1
        per_hour[actor] += 1
        per_day[actor] += 1
        if ev.target_profile_id is not None:
            views_hour[actor] += 1
            seen = profiles[actor]
            if ev.target_profile_id not in seen:
                profiles[actor] = [*seen, ev.target_profile_id][-500:]
        x = {
            "rpm": float(per_minute[actor].current()),
            "rph": float(per_hour[actor].current()),
            "rpd": float(per_day[actor].current()),
            "vph": float(views_hour[actor].current()),
            "distinct": float(len(profiles[actor])),
        }
        model.score_one(x)
        model.learn_one(x)
        progress["events"] += 1
        progress["last"] = time.time()


@app.page("/progress")
async def show_progress(web: Any, request: Any) -> Any:
    return web.json(progress)


if __name__ == "__main__":
    app.main()
