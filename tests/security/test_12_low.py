"""The low findings: digits that are not ASCII, tenant collisions through ``/``, the API
token in URLs, an API open to the network by default, a malformed cursor → HTTP 500."""

from __future__ import annotations

from importlib import resources
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient
from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import SecretStr

from models import REGISTRY
from stream.core.counters import numeric_id
from stream.core.partition_detector import PartitionDetector
from stream.core.policy_loader import load_policy
from stream.core.validation import Invalid, validate
from stream.settings import Settings
from tests.helpers import T0, event, rec
from tests.security.test_02_default_secrets import good_keys, start_worker
from tests.security.webapp import FakeQuery, run_api

TOKEN = "an-api-token-for-these-tests-0123"


# -- "²".isdigit() is true but int("²") fails -------------------------------------------
@pytest.mark.parametrize("target", ["²", "١٢٣", "½", "12²"])
def test_unicode_digits_are_not_enumeration_ids_and_leave_state_whole(target: str) -> None:
    assert numeric_id(target) == -1
    det = PartitionDetector(
        "requests", 0, load_policy(), REGISTRY.get("hst").build(), "hst@1", clock=lambda: T0
    )
    out = det.process([rec(i, event(i, T0 - 60 + i, target_profile_id=target)) for i in range(3)])
    assert not out.deadletters
    state = det.actors.peek("account:alice")
    assert state is not None and state.counters.events == 3


# -- tenants: "/" and control characters ---------------------------------------------------
def check(**over: Any) -> Any:
    return validate(orjson.dumps(event(0, T0, **over)), now=T0)


@pytest.mark.parametrize(
    "over",
    [
        {"tenant": "acme/account:bob"},
        {"account": "bob/../alice"},
        {"account": None, "session_id": "s/1"},
        {"account": "bob\nINFO forged log line"},
        {"tenant": "acme\x00"},
        {"account": "bob\x1b[31m"},
        {"target_profile_id": "p\r\n1"},
    ],
)
def test_slashes_and_control_characters_are_refused_in_identities(over: dict[str, Any]) -> None:
    res = check(**over)
    assert isinstance(res, Invalid) and res.reason == "invalid_field", res


IDS = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8)


@given(t1=st.none() | IDS, a1=IDS, t2=st.none() | IDS, a2=IDS)
@example(t1="account:acme", a1="bob", t2=None, a2="acme/account:bob")  # the finding's collision
@example(t1="acme", a1="x/account:y", t2="acme/account:x", a2="y")
def test_two_tenants_never_share_an_actor(
    t1: str | None, a1: str, t2: str | None, a2: str
) -> None:
    r1 = check(tenant=t1, account=a1)
    r2 = check(tenant=t2, account=a2)
    if isinstance(r1, Invalid) or isinstance(r2, Invalid):
        return
    if (r1.tenant, r1.account_id) != (r2.tenant, r2.account_id):
        assert r1.actor != r2.actor


# -- the API token in URLs; the dashboard signs in with a form and a cookie ----------------
def api_settings(**over: Any) -> Settings:
    return Settings(
        **{"api_token": SecretStr(TOKEN), "control_key": SecretStr("c" * 40), **over}
    )


def test_the_token_is_not_accepted_in_the_url() -> None:
    async def body(c: TestClient) -> tuple[int, int]:
        in_url = (await c.get(f"/decisions?token={TOKEN}")).status
        in_header = (await c.get("/decisions", headers={"Authorization": f"Bearer {TOKEN}"}))
        return in_url, in_header.status

    assert run_api(api_settings(), FakeQuery(), body) == (401, 200)


def test_the_dashboard_writes_no_token_into_links() -> None:
    page = resources.files("stream.api").joinpath("static/dashboard.html").read_text()
    assert "token=" not in page and 'params.get("token")' not in page
    assert 'action="/login"' in page


def test_form_sign_in_sets_an_httponly_cookie_that_is_not_the_token() -> None:
    async def body(c: TestClient) -> dict[str, Any]:
        wrong = await c.post("/login", data={"token": "guess"}, allow_redirects=False)
        right = await c.post("/login", data={"token": TOKEN}, allow_redirects=False)
        cookie = right.headers.get("Set-Cookie", "")
        after = await c.get("/decisions")  # the client keeps the cookie
        c.session.cookie_jar.clear()
        cleared = await c.get("/decisions")
        return {
            "wrong": wrong.status,
            "right": right.status,
            "cookie": cookie,
            "after": after.status,
            "cleared": cleared.status,
        }

    got = run_api(api_settings(), FakeQuery(), body)
    assert got["wrong"] == 401 and got["right"] == 303
    assert "HttpOnly" in got["cookie"] and "SameSite=Strict" in got["cookie"]
    assert TOKEN not in got["cookie"]
    assert got["after"] == 200 and got["cleared"] == 401


# -- the API open to the network by default -----------------------------------------------
def test_a_worker_bound_beyond_loopback_needs_a_token() -> None:
    env: dict[str, str | None] = {
        **good_keys(),
        "SCRAPEGUARD_WEB_HOST": "0.0.0.0",
        "SCRAPEGUARD_WEB_PORT": "6066",
    }
    code, output = start_worker(env)
    assert code == 1 and "SCRAPEGUARD_API_TOKEN is not set" in output
    from stream import keys

    assert keys.http_problems(Settings(web_host="127.0.0.1")) == []  # the default is fine
    assert keys.http_problems(Settings(web_host="0.0.0.0", api_token=SecretStr(TOKEN))) == []
    # a short token is refused (review of this stop): the API has no limit on attempts
    (short,) = keys.http_problems(Settings(api_token=SecretStr("s3cret-token")))
    assert short.startswith("SCRAPEGUARD_API_TOKEN is shorter than 32 bytes")


# -- bad query parameters: 400, never 500 ---------------------------------------------------
@pytest.mark.parametrize(
    "query",
    ["cursor=garbage", "cursor=nan:x", "cursor=1.5:", "limit=abc", "limit=0", "since=nan",
     "since=yesterday", "limit=1e400"],
)
def test_bad_query_parameters_are_400(query: str) -> None:
    async def body(c: TestClient) -> int:
        r = await c.get(f"/decisions?{query}", headers={"Authorization": f"Bearer {TOKEN}"})
        return r.status

    assert run_api(api_settings(), FakeQuery(), body) == 400
