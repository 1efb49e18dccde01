"""Finding 8: ``/explain`` forwarded the caller's ``Authorization`` header and
``?token=`` to whatever URL the unsigned ``members`` topic named (token theft, SSRF).

Member records are now signed with a key derived from the control key (unsigned ones
are dropped), and a routed request carries the routing worker's own credential, bound
to the path and a few seconds — never the caller's.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from stream.core.internal_records import Member
from stream.runtime.global_view import GlobalView
from stream.settings import Settings
from tests.security.webapp import FakeQuery, run_api, serve

TOKEN = "the-callers-api-token-0123456789"
CONTROL = "the-control-key-of-the-workers-0123"


def settings(**over: Any) -> Settings:
    base: dict[str, Any] = {"api_token": SecretStr(TOKEN), "control_key": SecretStr(CONTROL)}
    return Settings(**{**base, **over})


def test_routing_never_sends_the_callers_credentials() -> None:
    seen: list[dict[str, str]] = []

    async def owner(request: web.Request) -> web.Response:
        seen.append({**request.headers, "query": request.query_string})
        return web.json_response({"answered_by": "attacker"})

    async def main() -> int:
        capture = web.Application()
        capture.router.add_get("/explain/{actor}", owner)
        async with TestServer(capture) as server:
            # the members topic says the actor's partition lives at the capture server
            query = FakeQuery(owner=str(server.make_url("")).rstrip("/"))

            async def ask(c: TestClient) -> int:
                r = await c.get(
                    "/explain/account:alice?token=" + TOKEN,
                    headers={"Authorization": f"Bearer {TOKEN}"},
                )
                return r.status

            return await serve(settings(), query, ask)

    assert asyncio.run(main()) == 200
    assert seen, "the request was not routed"
    sent = [" ".join(f"{k}: {v}" for k, v in h.items()) for h in seen]
    assert not [s for s in sent if TOKEN in s], "the caller's token went to a URL from Kafka"
    assert seen[0].get("X-Scrapeguard-Peer")  # a credential of the worker's own


def view(s: Settings) -> GlobalView:
    return GlobalView(s, writer=None, owned=set, on_control=lambda *a: None)  # type: ignore[arg-type]


class Rec:
    def __init__(self, value: bytes) -> None:
        self.value = value


def test_unsigned_member_records_are_dropped() -> None:
    v = view(settings())
    forged = Member("evil", "http://attacker.example:80", time.time(), list(range(8)))
    v._on_member(Rec(forged.encode()))
    assert v.members == {}
    assert v.owner_url(3) is None


def test_signed_member_records_are_kept_but_not_with_a_url_that_carries_more() -> None:
    from stream.core.peers import member_key, sign_member

    v = view(settings())
    key = member_key(CONTROL.encode())
    good = sign_member(Member("w1", "http://10.0.0.7:6066", time.time(), [3]), key)
    v._on_member(Rec(good.encode()))
    assert v.owner_url(3) == "http://10.0.0.7:6066"
    bad = sign_member(Member("w2", "http://u:p@10.0.0.8:6066/x?y", time.time(), [4]), key)
    v._on_member(Rec(bad.encode()))
    assert v.owner_url(4) is None


def test_a_peer_credential_works_for_its_own_path_only_and_not_for_long() -> None:
    from stream.core.peers import PEER_HEADER, peer_credential, peer_key

    key = peer_key(CONTROL.encode())

    async def body(c: TestClient) -> list[int]:
        path = "/explain/account%3Aalice"
        fresh = peer_credential(key, path)
        other = peer_credential(key, "/explain/account%3Abob")
        old = peer_credential(key, path, now=time.time() - 600)
        forged = peer_credential(b"not-the-key", path)
        out = []
        for cred in (fresh, other, old, forged):
            r = await c.get(path, headers={PEER_HEADER: cred})
            out.append(r.status)
        return out

    statuses = run_api(settings(), FakeQuery(owned=True), body)
    assert statuses == [200, 401, 401, 401]
