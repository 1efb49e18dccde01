"""The ``/check`` load: an open-loop HTTP/1.1 client in its own process, on 127.0.0.1.

``python -m stream.harness.bench.check_load PORT KEY RATE SECONDS`` sends ``RATE`` requests
a second for ``SECONDS`` over keep-alive connections, each at its scheduled time, and
prints one JSON line: latency percentiles measured from the *scheduled* send time (so a
server that falls behind is charged for the wait: no coordinated omission), the rate
achieved and the answers by status. The identities are a mix of blocked and challenged
accounts, addresses in blocked ranges, and people without a decision. It stops by itself.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
from collections import Counter

import orjson

CONNECTIONS = 48


def requests(key: str, n: int = 2000, seed: int = 7) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.2:
            who = f"X-Account-Id: chk-blocked-{rng.randrange(5000)}\r\n"
        elif r < 0.3:
            who = f"X-Account-Id: chk-challenged-{rng.randrange(5000)}\r\n"
        elif r < 0.4:
            who = f"X-Forwarded-For: 10.77.{rng.randrange(256)}.{rng.randrange(1, 255)}\r\n"
        else:
            who = (
                f"X-Account-Id: person-{rng.randrange(10**6)}\r\n"
                f"X-Session-Id: s-{rng.randrange(10**6)}\r\n"
                f"X-Forwarded-For: 198.18.{rng.randrange(256)}.{rng.randrange(1, 255)}\r\n"
            )
        out.append(
            (f"GET /check HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Api-Key: {key}\r\n{who}\r\n").encode()
        )
    return out


async def _connection(
    port: int,
    schedule: list[float],
    payloads: list[bytes],
    lat_ms: list[float],
    statuses: Counter[int],
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    loop = asyncio.get_running_loop()
    try:
        for t_sched, payload in zip(schedule, payloads, strict=True):
            delay = t_sched - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            writer.write(payload)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            lat_ms.append((loop.time() - t_sched) * 1000)
            statuses[status] += 1
    finally:
        writer.close()


async def run(port: int, key: str, rate: float, seconds: float) -> dict[str, object]:
    loop = asyncio.get_running_loop()
    variants = requests(key)
    total = int(rate * seconds)
    start = loop.time() + 0.5
    schedule = [start + i / rate for i in range(total)]
    lat_ms: list[float] = []
    statuses: Counter[int] = Counter()
    tasks = [
        _connection(
            port,
            schedule[c::CONNECTIONS],
            [variants[i % len(variants)] for i in range(c, total, CONNECTIONS)],
            lat_ms,
            statuses,
        )
        for c in range(CONNECTIONS)
    ]
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=seconds * 20 + 30)
    elapsed = loop.time() - start
    q = statistics.quantiles(lat_ms, n=100)
    return {
        "offered_rps": rate,
        "achieved_rps": round(total / elapsed),
        "requests": total,
        "p50": round(q[49], 3),
        "p90": round(q[89], 3),
        "p99": round(q[98], 3),
        "max": round(max(lat_ms), 3),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
    }


def main() -> None:
    port, key, rate, seconds = sys.argv[1:5]
    result = asyncio.run(run(int(port), key, float(rate), float(seconds)))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")


if __name__ == "__main__":
    main()
