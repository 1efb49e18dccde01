"""/check as a gateway meets it (review of this stop, an attacker at the HTTP side).

- While a worker restarted, every gateway request was answered 403: bouncer keys are read
  with the decisions, so before the worker had read them to their end no bouncer's key was
  known, and the key check came before the readiness check. nginx, Envoy and Traefik deny
  on 403: every visitor of the site was blocked, whatever ``check_when_not_ready`` said.
- Only the first ``X-Forwarded-For`` line was read: behind a proxy that adds its own line
  after the client's (HAProxy's ``option forwardfor``), the client named its own address.
- A decision id went into a response header as it was read from the topic: an id with a
  line break made /check answer 500 for that actor.
- A trusted proxy range written IPv4-mapped was never matched (peers are read as IPv4).
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from multidict import CIMultiDict
from pydantic import SecretStr

from stream.api import check
from stream.api.check import ClientAddress
from stream.api.query import ActorView
from stream.core.bouncer_keys import BouncerRegistry, hash_key, new_key
from stream.core.decision_index import DecisionIndex
from stream.core.operator_records import BouncerKey
from stream.settings import Settings
from tests.security.test_13_tenant_header import NOW, SCRAPER_IP, Query, block, blocked
from tests.security.webapp import FakeQuery, run_api

TOKEN = "t" * 40


def answers(
    settings: Settings, query: Query, asks: list[CIMultiDict[str]]
) -> list[tuple[int, str | None]]:
    async def main() -> list[tuple[int, str | None]]:
        app = web.Application()
        app.router.add_route("*", "/check", check.handler(settings, query))
        async with TestClient(TestServer(app)) as c:  # from 127.0.0.1: a trusted proxy
            out = []
            for h in asks:
                r = await c.get("/check", headers=h)
                out.append((r.status, r.headers.get("X-Scrapeguard-Reason")))
            return out

    return asyncio.run(main())


def test_a_restarting_worker_answers_as_check_when_not_ready_says_not_403() -> None:
    key = new_key()
    registry = BouncerRegistry()  # the worker has not read the bouncers' topic yet
    query = Query(blocked(), registry)
    query.enforcement_ready = False
    token = Settings(api_token=SecretStr("t" * 40))
    asks = [CIMultiDict({"X-Api-Key": key, "X-Forwarded-For": SCRAPER_IP})]
    assert answers(token, query, asks) == [(200, "not_ready")]
    closed = Settings(api_token=SecretStr("t" * 40), check_when_not_ready="closed")
    assert answers(closed, query, asks) == [(503, "not_ready")]
    # once ready the key is known (read with the decisions) and the block applies; a wrong
    # key is refused as before
    registry.put("gw", BouncerKey("gw", hash_key(key), NOW))
    query.enforcement_ready = True
    wrong = CIMultiDict({"X-Api-Key": "wrong", "X-Forwarded-For": SCRAPER_IP})
    assert [s for s, _ in answers(token, query, [*asks, wrong])] == [403, 403]
    assert answers(token, query, [wrong])[0][1] is None  # refused: no decision's reason


def test_every_line_of_the_forwarded_header_is_read() -> None:
    # the client's own line first, then the one its proxy added: the proxy's is believed
    two = CIMultiDict([("X-Forwarded-For", "192.0.2.1"), ("X-Forwarded-For", SCRAPER_IP)])
    assert [s for s, _ in answers(Settings(), Query(blocked()), [two])] == [403]
    hops = ClientAddress(["127.0.0.1/32"], ["X-Forwarded-For"])
    assert hops.of("127.0.0.1", two) == SCRAPER_IP
    assert hops.of("127.0.0.1", CIMultiDict({"X-Forwarded-For": SCRAPER_IP})) == SCRAPER_IP


def test_a_trusted_range_written_ipv4_mapped_is_trusted() -> None:
    mapped = ClientAddress(["::ffff:10.0.0.0/104"], ["X-Forwarded-For"])
    assert mapped.of("10.1.2.3", CIMultiDict({"X-Forwarded-For": SCRAPER_IP})) == SCRAPER_IP
    assert mapped.of("::ffff:10.1.2.3", CIMultiDict({"X-Forwarded-For": SCRAPER_IP})) == SCRAPER_IP


def test_a_decision_id_with_a_line_break_is_answered_not_a_500() -> None:
    idx = DecisionIndex()
    idx.add(block(f"ip:{SCRAPER_IP}", "ab\r\nSet-Cookie: x=1"))

    async def main() -> tuple[int, str, str | None]:
        app = web.Application()
        app.router.add_route("*", "/check", check.handler(Settings(), Query(idx)))
        async with TestClient(TestServer(app)) as c:
            r = await c.get("/check", headers={"X-Forwarded-For": SCRAPER_IP})
            return r.status, r.headers["X-Scrapeguard-Decision-Id"], r.headers.get("Set-Cookie")

    assert asyncio.run(main()) == (403, "ab??Set-Cookie: x=1", None)


class AskedQuery(FakeQuery):
    """Records which actor the API looked up."""

    def __init__(self, owner: str | None = None, owned: bool = True) -> None:
        super().__init__(owner=owner, owned=owned)
        self.asked: list[str] = []

    def actor(self, actor: str) -> ActorView:
        self.asked.append(actor)
        return super().actor(actor)

    def current_decision(self, actor: str, now: float) -> dict[str, Any] | None:
        self.asked.append(actor)
        return None


def test_the_api_looks_actors_up_as_decisions_name_them() -> None:
    # a block of 2001:db8::1 was not found as ip:2001:DB8::1 (nor ::ffff:192.0.2.1 as
    # its IPv4): /check blocked it while /decisions said "no decision"
    query = AskedQuery()

    async def body(c: TestClient) -> list[int]:
        paths = ["/decisions/ip:2001:DB8::1", "/explain/ip:::ffff:192.0.2.1", "/explain/nobody"]
        return [
            (await c.get(p, headers={"Authorization": "Bearer " + TOKEN})).status for p in paths
        ]

    assert run_api(Settings(api_token=SecretStr(TOKEN)), query, body) == [404, 200, 400]
    assert query.asked == ["ip:2001:db8::1", "ip:192.0.2.1"]


def test_explain_routed_to_an_owner_that_does_not_answer_is_a_502_in_words() -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    query = AskedQuery(owner=f"http://127.0.0.1:{port}", owned=False)
    control = Settings(api_token=SecretStr(TOKEN), control_key=SecretStr("c" * 40))

    async def body(c: TestClient) -> tuple[int, Any]:
        r = await c.get("/explain/account:alice", headers={"Authorization": "Bearer " + TOKEN})
        return r.status, await r.json()

    status, answer = run_api(control, query, body)
    assert status == 502
    assert answer["error"].startswith("the worker that owns its partition did not answer")
