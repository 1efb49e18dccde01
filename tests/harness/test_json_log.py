"""JSON access logs (:mod:`stream.harness.json_log`, ``replay --log-format json``): nginx's
escape=json, Caddy's and Traefik's lines become the same request events as a text log's."""

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from stream.core.client_address import TrustedProxies
from stream.harness.access_log import JSON, LogParser
from stream.harness.json_log import json_fields
from stream.harness.log_formats import detect_format
from tests.helpers import real_log_events

NGINX = {
    "time_local": "17/May/2015:10:05:03 +0000",
    "remote_addr": "203.0.113.9",
    "request": "GET /profiles/4242?tab=about HTTP/1.1",
    "status": "200",
    "request_time": "0.004",  # a duration: never the time
    "http_referer": "",
    "http_user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
}
CADDY = {
    "level": "info",
    "ts": 1431857103.25,
    "logger": "http.log.access",
    "request": {
        "remote_ip": "203.0.113.10",
        "method": "GET",
        "uri": "/profiles/7",
        "headers": {"User-Agent": ["curl/8.0"], "Referer": ["https://example.org/"]},
    },
    "user_id": "",
    "status": 200,
}
TRAEFIK = {
    "ClientAddr": "203.0.113.11:5678",
    "ClientHost": "203.0.113.11",
    "DownstreamStatus": 404,
    "RequestMethod": "HEAD",
    "RequestPath": "/robots.txt",
    "StartUTC": "2015-05-17T10:05:05.123456789Z",
    "request_User-Agent": "Googlebot/2.1 (+http://www.google.com/bot.html)",
    "request_Referer": "-",
}


def _event(doc: dict[str, Any]) -> dict[str, Any] | None:
    return LogParser("json").parse_line(orjson.dumps(doc).decode(), 1)


def test_nginx_escape_json_reads_as_combined_does() -> None:
    ev = _event(NGINX)
    text = LogParser().parse_line(
        '203.0.113.9 - - [17/May/2015:10:05:03 +0000] "GET /profiles/4242?tab=about HTTP/1.1" '
        '200 512 "-" "Mozilla/5.0 (X11; Linux x86_64)"',
        1,
    )
    assert ev == text


def test_caddy_nested_request_and_header_lists() -> None:
    ev = _event(CADDY)
    assert ev is not None
    assert (ev["ts"], ev["ip"], ev["method"], ev["path"], ev["status"]) == (
        1431857103.25,
        "203.0.113.10",
        "GET",
        "/profiles/7",
        200,
    )
    assert (ev["user_agent"], ev["referrer"], ev["target_profile_id"]) == (
        "curl/8.0",
        "https://example.org/",
        "7",
    )
    assert "account_id" not in ev  # Caddy's empty user_id


def test_traefik_names_and_an_iso_time_with_nanoseconds() -> None:
    ev = _event(TRAEFIK)
    assert ev is not None
    assert (ev["ip"], ev["method"], ev["path"], ev["status"], ev["referrer"]) == (
        "203.0.113.11",
        "HEAD",
        "/robots.txt",
        404,
        "",
    )
    assert ev["ts"] == pytest.approx(1431857105.123456)
    assert str(ev["user_agent"]).startswith("Googlebot/2.1")


def test_a_clients_headers_never_become_the_address_the_account_or_the_request() -> None:
    # (review of this stop) a search at any depth read Caddy's request.headers, and
    # Traefik's request_<Header> keys: a client sending "Remote-Addr", "Account-Id" or
    # "Method" headers framed another address or account, or changed the request
    caddy = {
        **CADDY,
        "request": {
            **CADDY["request"],  # type: ignore[dict-item]
            "headers": {
                "User-Agent": ["curl/8.0"],
                "Remote-Addr": ["198.51.100.77"],
                "Account-Id": ["victim"],
                "Request-Uri": ["/profiles/victim"],
                "Request": ["POST /admin HTTP/1.1"],
                "Status": ["500"],
            },
        },
    }
    ev = _event(caddy)
    assert ev is not None
    assert (ev["ip"], ev["method"], ev["path"], ev["status"]) == (
        "203.0.113.10",
        "GET",
        "/profiles/7",
        200,
    )
    assert "account_id" not in ev and ev["user_agent"] == "curl/8.0"
    traefik = {**TRAEFIK, "request_Method": "DELETE", "request_Uri": "/x", "request_Ip": "1.2.3.4"}
    ev = _event(traefik)
    assert ev is not None and (ev["ip"], ev["method"], ev["path"]) == (
        "203.0.113.11",
        "HEAD",
        "/robots.txt",
    )
    # a flat line's nested objects are never read either
    flat = {**NGINX, "upstream": {"remote_addr": "10.0.0.1", "request": "POST /x HTTP/1.1"}}
    assert _event(flat) == _event(NGINX)


def test_an_elastic_common_schema_line_reads_the_client_not_the_destination() -> None:
    ecs = {
        "@timestamp": "2015-05-17T10:05:03.000Z",
        "destination": {"ip": "10.0.0.1"},
        "source": {"ip": "203.0.113.12"},
        "http": {
            "request": {"method": "GET", "referrer": "https://example.org/"},
            "response": {"status_code": 200},
        },
        "url": {"original": "/profiles/9?tab=x", "path": "/profiles/9"},
        "user_agent": {"original": "Mozilla/5.0"},
    }
    ev = _event(ecs)
    assert ev is not None
    assert (ev["ts"], ev["ip"], ev["path"], ev["referrer"], ev["user_agent"]) == (
        1431857103.0,
        "203.0.113.12",
        "/profiles/9",
        "https://example.org/",
        "Mozilla/5.0",
    )


@pytest.mark.parametrize(
    ("ts", "seconds"),
    [
        (1431857103, 1431857103.0),
        (1431857103250, 1431857103.25),
        (1431857103250000, 1431857103.25),  # microseconds
        (1431857103250000000, 1431857103.25),  # nanoseconds (Caddy's unix_nano)
        ("1431857103.5", 1431857103.5),
        ("2015-05-17T10:05:03", 1431857103.0),  # no zone: UTC, whatever the host's
        ("yesterday", None),
    ],
)
def test_an_epoch_time_by_its_size_and_a_date_without_a_zone(
    ts: object, seconds: float | None
) -> None:
    ev = _event({"ts": ts, "status": 200, "uri": "/", "ip": "203.0.113.1"})
    if seconds is None:
        assert ev is None
    else:
        assert ev is not None and ev["ts"] == pytest.approx(seconds)


def test_a_time_key_that_is_no_time_gives_way_to_the_next() -> None:
    # "time" is tried before "ts"
    ev = _event({"time": "yesterday", "ts": 1431857000, "status": 200, "uri": "/"})
    assert ev is not None and ev["ts"] == 1431857000.0


def test_nginx_http_referrer_spelling_and_a_status_in_other_digits() -> None:
    ev = _event({**NGINX, "http_referrer": "https://example.org/"})
    assert ev is not None and ev["referrer"] == ""  # http_referer, present, comes first
    del_ref = {k: v for k, v in NGINX.items() if k != "http_referer"}
    ev = _event({**del_ref, "http_referrer": "https://example.org/"})
    assert ev is not None and ev["referrer"] == "https://example.org/"
    assert _event({**NGINX, "status": "\u0663\u0660\u0660"}) is None  # Arabic-Indic 300


@pytest.mark.parametrize(
    "line",
    [
        "not json",
        "[1, 2]",
        '"a string"',
        '{"ts": "yesterday", "status": 200, "uri": "/"}',  # no time
        '{"ts": NaN, "status": 200, "uri": "/"}',
        '{"ts": 1e400, "status": 200, "uri": "/"}',
        '{"ts": true, "status": 200, "uri": "/"}',
        '{"ts": 1431857103, "status": "OK", "uri": "/"}',  # no status
        '{"ts": 1431857103, "status": 200}',  # no target
        '{"ts": 1431857103, "status": 200, "uri": {"a": 1}}',
        '{"ts": 1431857103, "request_time": 0.2, "status": 200, "request": [1]}',
    ],
)
def test_a_line_that_is_no_request_is_unparsable_not_an_error(line: str) -> None:
    assert LogParser("json").parse_line(line, 1) is None


def test_only_a_time_field_makes_a_time() -> None:
    # nginx's $request_time is how long the request took, in seconds
    assert json_fields('{"request_time": 1431857103, "status": 200, "uri": "/"}') is None


def test_auto_detects_json_lines(tmp_path: Path) -> None:
    log = tmp_path / "access.json"
    log.write_text("".join(orjson.dumps(d).decode() + "\n" for d in (NGINX, CADDY, TRAEFIK)))
    found = detect_format(log)
    assert (found.name, found.matched, found.sampled, found.lacks) == ("json", 3, 3, [])


def test_x_forwarded_for_gives_the_address_only_when_asked() -> None:
    # the client's own line first, the proxy's after it (HAProxy's option forwardfor):
    # the header's lines are joined before its last entry is taken (review of this stop)
    headers = {"User-Agent": ["curl/8.0"], "X-Forwarded-For": ["6.6.6.6", "203.0.113.50"]}
    caddy = {**CADDY, "request": {**CADDY["request"], "headers": headers}}  # type: ignore[dict-item]
    line = orjson.dumps(caddy).decode()
    plain = LogParser("json").parse_line(line, 1)
    assert plain is not None and plain["ip"] == "203.0.113.10"
    asked = LogParser("json", forwarded_for=TrustedProxies(["203.0.113.10/32"])).parse_line(line, 1)
    assert asked is not None and asked["ip"] == "203.0.113.50"


def parsed(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` as a line of a JSON log, parsed (it must be a request)."""
    ev = LogParser(JSON).parse_line(orjson.dumps(doc).decode(), 1)
    assert ev is not None
    return ev


def test_a_google_cloud_load_balancers_entry() -> None:
    ev = parsed(
        {
            "httpRequest": {
                "requestMethod": "GET",
                "requestUrl": "https://www.example.com/profiles/9?tab=x",
                "status": 200,
                "userAgent": "Mozilla/5.0 (X11; Linux x86_64)",
                "remoteIp": "198.51.100.7",
                "referer": "https://www.example.com/search",
            },
            "timestamp": "2026-11-26T10:00:01.123456789Z",
            "receiveTimestamp": "2026-11-26T10:00:02Z",
            "resource": {"type": "http_load_balancer"},
        }
    )
    assert (ev["ts"], ev["ip"], ev["method"], ev["path"], ev["status"]) == (
        1795687201.123456,
        "198.51.100.7",
        "GET",
        "/profiles/9",  # the absolute URL read as its path
        200,
    )
    assert ev["target_profile_id"] == "9" and ev["referrer"] == "https://www.example.com/search"


def test_a_port_on_google_clouds_remote_ip_is_taken_off() -> None:
    request = {"requestMethod": "GET", "requestUrl": "/", "status": 200}
    # as Google's own example of the field writes it
    ev = parsed(
        {"httpRequest": {**request, "remoteIp": "203.0.113.9:4567"}, "timestamp": "2026-11-26"}
    )
    assert ev["ip"] == "203.0.113.9"


def test_a_cloudflare_logpush_line() -> None:
    ev = parsed(
        {
            "ClientIP": "2001:db8::7",
            "ClientRequestHost": "www.example.com",
            "ClientRequestMethod": "HEAD",
            "ClientRequestURI": "/people/ann?x=1",
            "ClientRequestUserAgent": "curl/8.0",
            "ClientRequestReferer": "",
            "EdgeResponseStatus": 403,
            "EdgeStartTimestamp": 1795687201123456789,  # Unix nanoseconds
        }
    )
    assert (ev["ip"], ev["method"], ev["path"], ev["status"], ev["user_agent"]) == (
        "2001:db8::7",
        "HEAD",
        "/people/ann",
        403,
        "curl/8.0",
    )
    assert abs(ev["ts"] - 1795687201.123457) < 1e-3 and ev["referrer"] == ""


def test_one_cloudflare_key_does_not_make_a_flat_line_cloudflares() -> None:
    flat = {"time_iso8601": "2026-11-26T10:00:01+00:00", "remote_addr": "198.51.100.7"}
    ev = parsed({**flat, "request": "GET / HTTP/1.1", "status": "200", "EdgeStartTimestamp": ""})
    assert ev["ip"] == "198.51.100.7"


def test_sec_fetch_dest_from_a_flat_line_caddy_and_traefik() -> None:
    flat = _event({**NGINX, "http_sec_fetch_dest": "empty"})
    assert flat is not None and flat["fetch_dest"] == "empty"
    headers = {**CADDY["request"]["headers"], "Sec-Fetch-Dest": ["document"]}  # type: ignore[index]
    caddy = _event({**CADDY, "request": {**CADDY["request"], "headers": headers}})  # type: ignore[dict-item]
    assert caddy is not None and caddy["fetch_dest"] == "document"
    traefik = _event({**TRAEFIK, "request_Sec-Fetch-Dest": "image"})
    assert traefik is not None and traefik["fetch_dest"] == "image"
    assert "fetch_dest" not in (_event(NGINX) or {})  # not logged: not said


def as_server(ev: dict[str, Any], server: str) -> str:
    """A request of the real log as ``server`` logs it: a header the request had none of
    is left out, as these servers do."""
    t = datetime.fromtimestamp(ev["ts"], UTC)
    sent = {"Accept": "*/*", "User-Agent": ev["user_agent"], "Referer": ev["referrer"]}
    headers = {k: v for k, v in sent.items() if v}  # most clients send Accept
    doc: dict[str, Any]
    if server == "caddy":
        request = {"remote_ip": ev["ip"], "method": ev["method"], "uri": ev["path"]}
        request["headers"] = {k: [v] for k, v in headers.items()}
        doc = {"ts": ev["ts"], "request": request, "status": ev["status"]}
    elif server == "traefik":
        doc = {"StartUTC": t.isoformat(), "ClientHost": ev["ip"], "RequestMethod": ev["method"]}
        doc |= {"RequestPath": ev["path"], "DownstreamStatus": ev["status"]}
        doc |= {f"request_{k}": v for k, v in headers.items()}
    else:  # Google Cloud's load balancer: an empty field is left out (proto3 JSON)
        names = {"User-Agent": "userAgent", "Referer": "referer"}
        http = {"remoteIp": ev["ip"], "requestMethod": ev["method"], "status": ev["status"]}
        http["requestUrl"] = "https://example.org" + ev["path"]
        http |= {names[k]: v for k, v in headers.items() if k in names}
        doc = {"timestamp": t.isoformat(), "httpRequest": http}
    return orjson.dumps(doc).decode()


@pytest.mark.parametrize("server", ["caddy", "traefik", "google-cloud"])
def test_the_real_log_written_by_a_server_that_leaves_out_missing_headers(server: str) -> None:
    """The shared Apache log as Caddy, Traefik (headers kept) and Google Cloud write it
    gives the same requests, referrers included, from the file's first referrer on: a
    referrer these servers leave out is then one the request had none of (""), not a log
    that does not say. Read as not said, 4,072 requests without one kept the referrer
    features neutral (the IIS copy of this log fell from 0.888 to 0.827 that way:
    docs/evaluation.md). Before the first, a line cannot tell: none said."""
    combined = real_log_events()
    written = [as_server(e, server) for e in combined]
    parser = LogParser(JSON)
    evs = list(parser.events(io.StringIO("\n".join(written) + "\n")))

    def said(ev: dict[str, Any]) -> tuple[object, ...]:
        return tuple(ev.get(k) for k in ("ts", "ip", "method", "path", "status", "referrer"))

    first = next(i for i, e in enumerate(evs) if e.get("referrer"))
    assert len(evs) == len(combined) > 9000 and parser.report.bad == 0
    assert first < 10 and all("referrer" not in e for e in evs[:first])
    assert [said(e) for e in evs[first:]] == [said(e) for e in combined[first:]]
    assert sum(e["referrer"] == "" for e in evs[first:]) > 4000


def test_a_json_log_that_keeps_no_referrer_says_nothing_of_them() -> None:
    """Traefik keeping only some headers, a Caddy filter deleting Referer: no line of the
    file shows one, so none is read as "the request had none" (every visitor would look
    like a crawler that sends none)."""
    docs = [orjson.loads(as_server(e, "traefik")) for e in real_log_events()[:500]]
    kept = [orjson.dumps({k: v for k, v in d.items() if k != "request_Referer"}) for d in docs]
    evs = list(LogParser(JSON).events(io.StringIO(b"\n".join(kept).decode() + "\n")))
    assert len(evs) == len(docs) and not any("referrer" in e for e in evs)
