"""GET against a worker's HTTP API in tests: (status, parsed body)."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

import orjson

from tests.e2e.conftest import API_TOKEN


def get(port: int, path: str, token: str | None = API_TOKEN) -> tuple[int, Any]:
    """``token`` defaults to the session worker's API token; None sends none."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            body = resp.read()
            if resp.headers.get_content_type() == "application/json":
                return resp.status, orjson.loads(body)
            return resp.status, body.decode()
    except urllib.error.HTTPError as exc:
        return exc.code, orjson.loads(exc.read())
