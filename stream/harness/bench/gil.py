"""What a call costs when another thread wants the interpreter lock:
``python -m stream.harness.bench.gil [--calls N]`` prints JSON, µs per call.

A worker runs each batch in an executor thread while the event loop's thread does the
Kafka I/O and the other agents (docs/performance.md, *Waiting for the interpreter lock*).
A call in C that lets go of the lock must take it back afterwards, and while the other
thread runs Python that can take up to the switch interval (5 ms). Each call here is timed
alone, then with a second thread spinning in Python. The contended figure depends on the
machine and its scheduling (free cores, other load): one run here gave hundreds of µs for
the calls that let go of the lock, another under a test suite's load gave no difference.
Read it as "can cost", and the worker's benches as what it did cost.
"""

from __future__ import annotations

import argparse
import hmac
import os
import threading
import time
import zlib
from collections.abc import Callable

import orjson
from cryptography.fernet import Fernet

from stream.core.actor_codec import encode
from stream.core.actor_state import ActorState
from stream.core.ledger import Sealer
from stream.core.records import RequestEvent
from stream.core.zero_runs import expand, squeeze


def _cold_actor() -> bytes:
    """The changelog encoding of an actor that made a few requests."""
    state = ActorState()
    for i in range(3):
        ts = 1_780_000_000.0 + 60 * i
        ev = RequestEvent(
            f"e{i}", ts, "account:a", "a", None, "10.0.0.1", "Mozilla/5.0", "GET",
            "/profiles/{id}", 200, f"p{i}", None,
        )  # fmt: skip
        state.apply(ev, i)
    return encode(state)


def calls() -> dict[str, Callable[[], object]]:
    raw = _cold_actor()
    packed, squeezed = zlib.compress(raw, 1), squeeze(raw)
    fernet, sealer = Fernet(Fernet.generate_key()), Sealer(Sealer.new_key())
    key = os.urandom(32)
    return {
        "Fernet.encrypt (ledger sealing before)": lambda: fernet.encrypt(b"profile-42"),
        "Sealer.seal (AES-SIV, now)": lambda: sealer.seal("profile-42"),
        "os.urandom(16)": lambda: os.urandom(16),
        "zlib.compress level 1 (cold tier before)": lambda: zlib.compress(raw, 1),
        "zlib.decompress (cold tier before)": lambda: zlib.decompress(packed),
        "squeeze (cold tier now)": lambda: squeeze(raw),
        "expand (cold tier now)": lambda: expand(squeezed),
        "hmac sha256 (pseudonyms)": lambda: hmac.digest(key, b"profile-42", "sha256"),
    }


def _time(fn: Callable[[], object], n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n * 1e6


def _spin(stop: threading.Event) -> None:
    """Python work without a pause, as a busy event loop does between its waits."""
    x = 0
    while not stop.is_set():
        x += 1


def measure(n: int) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for name, fn in calls().items():
        alone = _time(fn, n)
        stop = threading.Event()
        busy = threading.Thread(target=_spin, args=(stop,), daemon=True)
        busy.start()
        try:
            contended = _time(fn, max(1, n // 5))
        finally:
            stop.set()
            busy.join()
        out[name] = {"alone_us": round(alone, 2), "contended_us": round(contended, 2)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=1500, help="calls timed alone (a fifth contended)")
    args = ap.parse_args()
    print(orjson.dumps(measure(args.calls), option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
