"""The worker's HTTP API in-process (its Faust views on aiohttp's test server), answering
from a stand-in :class:`~stream.api.query.WorkerQuery` — no broker, no worker process."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import faust
from aiohttp.test_utils import TestClient, TestServer

from stream.api.query import ActorView
from stream.api.views import install
from stream.core.decision_store import DecisionStore, Page
from stream.core.policy_loader import load_policy
from stream.settings import Settings


class FakeQuery:
    """Owns no partition; ``owner`` is where the members topic says the actor lives."""

    worker_id = "worker-b"

    def __init__(self, owner: str | None = None, owned: bool = False) -> None:
        self.owner = owner
        self.owned = owned
        self.store = DecisionStore()

    async def health(self) -> dict[str, Any]:
        return {"ready": True}

    def actor(self, actor: str) -> ActorView:
        return ActorView(actor, 3, self.owned, None, load_policy(), [], "hst@1")

    def owner_url(self, partition: int) -> str | None:
        return self.owner

    def current_decision(self, actor: str, now: float) -> dict[str, Any] | None:
        return None

    def decisions(
        self, action: Any, since: Any, include_shadow: bool, limit: int, cursor: Any
    ) -> Page:
        return self.store.query(action, since, include_shadow, limit, cursor)

    def incidents(self, status: str) -> list[dict[str, Any]]:
        return []

    def incident(self, incident_id: str) -> dict[str, Any] | None:
        return None

    def summary(self) -> dict[str, Any]:
        return {}

    def metrics(self) -> bytes:
        return b""


async def serve(
    settings: Settings, query: Any, body: Callable[[TestClient], Awaitable[Any]]
) -> Any:
    """Serve the API of ``settings`` from ``query`` and await ``body`` against it."""
    app = faust.App(
        f"sec-{id(query)}", web_enabled=True, autodiscover=False, broker="kafka://127.0.0.1:1"
    )
    install(app, settings, query)
    async with TestClient(TestServer(app.web.web_app)) as client:  # type: ignore[attr-defined]
        return await body(client)


def run_api(
    settings: Settings, query: Any, body: Callable[[TestClient], Awaitable[Any]]
) -> Any:
    """:func:`serve` in a loop of its own."""
    return asyncio.run(serve(settings, query, body))
