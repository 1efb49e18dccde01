"""deploy/gateways: the Envoy and Traefik configurations name what /check reads (the nginx
one runs for real in tests/e2e/test_nginx.py)."""

from __future__ import annotations

from pathlib import Path

import yaml

from stream.settings import Settings

GATEWAYS = Path(__file__).resolve().parents[2] / "deploy" / "gateways"
S = Settings()
IDENTITY = {S.check_account_header, S.check_session_header}
# a client's tenant header would look its decisions up among another tenant's: no gateway
# passes it, and /check reads none by default (tests/security/test_13_tenant_header.py)
TENANT = "X-Tenant-Id"


def test_envoy_ext_authz_asks_check_with_the_identity_headers() -> None:
    doc = yaml.safe_load((GATEWAYS / "envoy.yaml").read_text())
    (listener,) = doc["static_resources"]["listeners"]
    hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
    authz = hcm["http_filters"][0]["typed_config"]["http_service"]
    assert authz["path_prefix"] == "/check" and authz["server_uri"]["timeout"] == "0.2s"
    sent = {p["exact"] for p in authz["authorization_request"]["allowed_headers"]["patterns"]}
    assert {h.lower() for h in IDENTITY} <= sent and TENANT.lower() not in sent
    assert authz["authorization_request"]["headers_to_add"][0]["key"] == "X-Api-Key"
    assert hcm["http_filters"][-1]["name"] == "envoy.filters.http.router"
    # a denial reaches the client with its action and id, never its reason (a limit and
    # a count would tell a scraper how to stay under it)
    to_client = authz["authorization_response"]["allowed_client_headers"]["patterns"]
    assert all("exact" in p for p in to_client)
    assert {p["exact"] for p in to_client} == {
        "x-scrapeguard-action",
        "x-scrapeguard-decision-id",
        "retry-after",
    }


def test_traefik_forward_auth_asks_check_and_strips_the_key() -> None:
    doc = yaml.safe_load((GATEWAYS / "traefik.yaml").read_text())["http"]
    chain = doc["routers"]["app"]["middlewares"]
    assert chain == ["scrapeguard-key", "scrapeguard-check", "scrapeguard-strip"]
    fa = doc["middlewares"]["scrapeguard-check"]["forwardAuth"]
    assert fa["address"].endswith("/check")
    assert IDENTITY | {"X-Api-Key"} <= set(fa["authRequestHeaders"])
    assert TENANT not in fa["authRequestHeaders"]
    strip = doc["middlewares"]["scrapeguard-strip"]["headers"]["customRequestHeaders"]
    assert strip == {"X-Api-Key": ""}
    # the check's denial goes to the client through scrapeguard-key: without its reason
    hidden = doc["middlewares"]["scrapeguard-key"]["headers"]["customResponseHeaders"]
    assert hidden == {"X-Scrapeguard-Reason": "", "X-Scrapeguard-Origin": ""}


def test_nginx_passes_the_key_the_identities_and_the_client_address() -> None:
    text = (GATEWAYS / "nginx.conf").read_text()
    for line in (
        "auth_request /_scrapeguard_check;",
        "proxy_pass http://scrapeguard/check;",
        'proxy_set_header X-Api-Key "SCRAPEGUARD_BOUNCER_KEY";',
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        f'proxy_set_header {TENANT} "";',  # the client's is dropped
        "error_page 401 = @scrapeguard_challenge;",
        "error_page 403 = @scrapeguard_blocked;",
    ):
        assert line in text, line
