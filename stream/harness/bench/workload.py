"""The benchmark's event mix: many actors, a few scrapers, profile views with target ids."""

from __future__ import annotations

import random
from collections.abc import Iterator

import orjson

UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"


def events(
    n: int, actors: int, start_ts: float, seed: int = 1, span_s: float = 3600.0, prefix: str = "b"
) -> Iterator[tuple[bytes, bytes, str]]:
    """``n`` events as ``(key, value, event_id)``: 2 % of actors are scrapers doing 30 % of
    the requests (sequential profile ids), the rest people viewing a few profiles."""
    rng = random.Random(seed)
    scrapers = max(1, actors // 50)
    for i in range(n):
        if rng.random() < 0.3:
            a = rng.randrange(scrapers)
            target: str | None = str(1_000_000 + i)
        else:
            a = scrapers + rng.randrange(max(1, actors - scrapers))
            target = str(rng.randrange(5000)) if rng.random() < 0.5 else None
        account = f"{prefix}{a}"
        event_id = f"{prefix}-{i}"
        doc = {
            "event_id": event_id,
            "ts": round(start_ts + span_s * i / n, 3),
            "account_id": account,
            "session_id": None,
            "ip": f"10.{(a >> 16) & 255}.{(a >> 8) & 255}.{a & 255}",
            "user_agent": UA,
            "method": "GET",
            "path": "/profiles/{id}" if target else "/feed",
            "status": 200,
            "target_profile_id": target,
            "fields": ["name", "headline"] if target else None,
        }
        yield f"account:{account}".encode(), orjson.dumps(doc), event_id
