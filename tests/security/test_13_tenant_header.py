"""A client's tenant header lifted every /check decision about it (second review).

/check looked every identity up under the tenant the request named, and the shipped
gateways passed the client's `X-Tenant-Id` through: a blocked scraper that sent
`X-Tenant-Id: x` was looked up among tenant x's decisions, found in none, and served —
its address's block too. Now /check reads a tenant only where
`SCRAPEGUARD_CHECK_TENANT_HEADER` names a header (none by default; the gateways drop the
client's), and an address's decision made without a tenant applies under every tenant.
The same review found that an API key or token whose bytes are not UTF-8 made /check
answer 500 with a traceback: it is now refused like any wrong key.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from stream.api import check
from stream.core.actions import Action
from stream.core.bouncer_keys import BouncerRegistry, hash_key, new_key
from stream.core.decision_index import DecisionIndex
from stream.core.operator_records import BouncerKey
from stream.core.records import Decision
from stream.settings import Settings

NOW = time.time()
SCRAPER_IP = "203.0.113.9"


def block(actor: str, did: str) -> Decision:
    return Decision(did, actor, "block", ["r"], 0.0, "hst@1", 3600, NOW + 3600, NOW)


class Query:
    """What /check asks of a worker, answered from a real decision index."""

    enforcement_ready = True

    def __init__(self, idx: DecisionIndex, registry: BouncerRegistry | None = None) -> None:
        self.check = idx.lookup
        self.registry = registry or BouncerRegistry()

    def bouncer(self, key: str) -> str | None:
        return self.registry.name_for(key)

    def has_bouncers(self) -> bool:
        return len(self.registry) > 0


def statuses(settings: Settings, query: Query, asks: list[dict[str, str]]) -> list[int]:
    async def main() -> list[int]:
        app = web.Application()
        app.router.add_route("*", "/check", check.handler(settings, query))
        async with TestClient(TestServer(app)) as c:
            # the test client's address is 127.0.0.1, a trusted proxy by default
            return [(await c.get("/check", headers=h)).status for h in asks]

    return asyncio.run(main())


def blocked() -> DecisionIndex:
    idx = DecisionIndex()
    idx.add(block(f"ip:{SCRAPER_IP}", "a" * 32))
    idx.add(block("account:42", "b" * 32))
    idx.add(block("range:198.51.100.0/24", "c" * 32))
    return idx


def test_a_clients_tenant_header_lifts_nothing() -> None:
    asks = [
        {"X-Forwarded-For": SCRAPER_IP},
        {"X-Forwarded-For": SCRAPER_IP, "X-Tenant-Id": "x"},
        {"X-Account-Id": "42", "X-Tenant-Id": "x"},
        {"X-Forwarded-For": "198.51.100.7", "X-Tenant-Id": "x"},
    ]
    assert statuses(Settings(), Query(blocked()), asks) == [403, 403, 403, 403]


def test_with_a_tenant_header_set_an_address_decided_without_one_still_applies() -> None:
    s = Settings(check_tenant_header="X-Tenant-Id")
    asks = [
        {"X-Forwarded-For": SCRAPER_IP, "X-Tenant-Id": "x"},
        {"X-Forwarded-For": "198.51.100.7", "X-Tenant-Id": "x"},
        # accounts are per tenant: tenant x's account 42 is not the one blocked
        {"X-Forwarded-For": "192.0.2.1", "X-Account-Id": "42", "X-Tenant-Id": "x"},
        {"X-Forwarded-For": "192.0.2.1", "X-Account-Id": "42"},
    ]
    assert statuses(s, Query(blocked()), asks) == [403, 403, 200, 403]


def test_the_index_applies_an_address_decided_without_a_tenant_under_every_tenant() -> None:
    idx = blocked()
    idx.add(block("t1/ip:192.0.2.5", "d" * 32))
    for tenant in (None, "t1", "t2"):
        e = idx.lookup(NOW, tenant, ip=SCRAPER_IP)
        assert e is not None and e.action == Action.BLOCK, tenant
        e = idx.lookup(NOW, tenant, ip="198.51.100.200")
        assert e is not None and e.ref.scope == "range", tenant
    # a tenant's own address decision stays that tenant's
    assert idx.lookup(NOW, "t1", ip="192.0.2.5") is not None
    assert idx.lookup(NOW, "t2", ip="192.0.2.5") is None
    assert idx.lookup(NOW, None, ip="192.0.2.5") is None
    assert idx.lookup(NOW, "t1", account="42") is None


def raw_statuses(settings: Settings, query: Query, header_lines: list[bytes]) -> list[bytes]:
    """The status line /check answers to a request carrying each raw header line."""

    async def main() -> list[bytes]:
        app = web.Application()
        app.router.add_route("*", "/check", check.handler(settings, query))
        server = TestServer(app)
        await server.start_server()
        out: list[Any] = []
        try:
            for line in header_lines:
                reader, writer = await asyncio.open_connection(server.host, server.port)
                writer.write(
                    b"GET /check HTTP/1.1\r\nHost: x\r\n" + line + b"\r\nConnection: close\r\n\r\n"
                )
                await writer.drain()
                out.append((await reader.readline()).strip())
                writer.close()
        finally:
            await server.close()
        return out

    return asyncio.run(main())


def test_a_key_or_token_that_is_not_utf8_is_refused_not_an_error() -> None:
    registry = BouncerRegistry()
    registry.put("gw", BouncerKey("gw", hash_key(new_key()), NOW))
    s = Settings(api_token=SecretStr("t" * 40))
    lines = [b"X-Api-Key: wrong", b"X-Api-Key: \xff\xfe", b"Authorization: Bearer \xff"]
    assert (
        raw_statuses(s, Query(DecisionIndex(), registry), lines) == [b"HTTP/1.1 403 Forbidden"] * 3
    )


def test_a_worker_says_when_decisions_name_tenants_that_check_does_not_read() -> None:
    # an upgrade from when /check read X-Tenant-Id by default: a multi-tenant platform's
    # decisions would no longer be found, and the worker says so once (and counts)
    from stream.runtime.global_view import GlobalView

    class Rec:
        def __init__(self, d: Decision) -> None:
            self.value = d.encode()

    def fed(s: Settings, *actors: str) -> int:
        v = GlobalView(s, writer=None, owned=set, on_control=lambda *a: None)  # type: ignore[arg-type]
        for i, actor in enumerate(actors):
            v._on_decision(Rec(block(actor, f"{i:032x}")))
        return v.stats["tenant_decisions_unchecked"]

    assert fed(Settings(), "ip:192.0.2.1", "account:42") == 0
    assert fed(Settings(), "t1/account:42", "ip:192.0.2.1", "t1/ip:192.0.2.2") == 2
    assert fed(Settings(check_tenant_header="X-Tenant-Id"), "t1/account:42") == 0
