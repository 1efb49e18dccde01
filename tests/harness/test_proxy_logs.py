"""Access logs of load balancers and proxies (AWS's Application and Classic Load Balancers,
Envoy, Istio): known to ``replay``'s auto-detection (:mod:`stream.harness.log_formats`),
their client address read as the server saw it (:mod:`stream.harness.access_log`)."""

from pathlib import Path

import pytest

from stream.core.client_address import TrustedProxies
from stream.harness.access_log import LogParser
from stream.harness.log_formats import KNOWN_FORMATS, detect_format
from tests.helpers import write_log

ALB = (
    "https 2026-11-26T10:00:01.186641Z app/my-lb/50dc6c495c0c9188 {client}:2817 10.0.0.1:80 "
    '0.086 0.048 0.037 200 200 0 57 "GET https://www.example.com:443/profiles/12?x=1 HTTP/1.1" '
    '"Mozilla/5.0 (X11; Linux x86_64)" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 '
    'arn:aws:elasticloadbalancing:us-east-2:1:targetgroup/t/73 "Root=1-5833" "www.example.com" '
    '"arn:aws:acm:us-east-2:1:certificate/1" 1 2026-11-26T10:00:00.364000Z "forward" "-" "-" '
    '"10.0.0.1:80" "200" "-" "-" TID_1'
)
CLASSIC_ELB = (
    "2026-11-26T10:00:02.945958Z my-lb 198.51.100.7:2817 10.0.0.1:80 0.000086 0.001048 "
    '0.001337 404 404 0 57 "GET http://www.example.com:80/robots.txt HTTP/1.1" "curl/8.0" - -'
)


@pytest.mark.parametrize(
    ("client", "ip"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("2001:db8::7", "2001:db8::7"),  # an IPv6 address's colons before the port's
        ("[2001:db8::7]", "2001:db8::7"),
        ("::ffff:198.51.100.7", "198.51.100.7"),  # IPv4-mapped: the worker's form
    ],
)
def test_an_aws_load_balancers_log_is_known(tmp_path: Path, client: str, ip: str) -> None:
    path = tmp_path / "alb.log"
    path.write_text(ALB.format(client=client) + "\n")
    found = detect_format(path)
    assert found.name == "aws alb" and found.lacks == ["referrer"]
    ev = LogParser(found.fmt).parse_line(ALB.format(client=client), 1)
    assert ev is not None
    assert (ev["ip"], ev["method"], ev["status"], ev["ts"]) == (ip, "GET", 200, 1795687201.186641)
    # the target in absolute form: the path is what follows the authority
    assert ev["path"] == "/profiles/12" and ev["target_profile_id"] == "12"


def test_a_classic_load_balancers_log_is_known(tmp_path: Path) -> None:
    path = tmp_path / "elb.log"
    path.write_text(CLASSIC_ELB + "\n")
    found = detect_format(path)
    assert found.name == "aws classic elb"
    ev = LogParser(found.fmt).parse_line(CLASSIC_ELB, 1)
    assert ev is not None and (ev["ip"], ev["path"], ev["status"]) == (
        "198.51.100.7",
        "/robots.txt",
        404,
    )


ENVOY = (
    '[2026-11-26T10:00:01.310Z] "GET /profiles/31?x=1 HTTP/2" 200 - 154 2048 26 25 '
    '"{xff}" "Mozilla/5.0 (X11; Linux x86_64)" "cc21d9b0-cf5c-432b" "www.example.com" '
    '"10.0.2.1:80"'
)
ISTIO = (
    '[2026-11-26T10:00:01.310Z] "GET /profiles/31 HTTP/1.1" 200 - via_upstream - "-" 0 2048 '
    '26 25 "203.0.113.50" "Mozilla/5.0 (X11; Linux x86_64)" "cc21d9b0" "www.example.com" '
    '"10.44.0.7:8080" outbound|8080||web.default.svc.cluster.local 10.44.1.3:51234 '
    "10.44.0.7:8080 10.44.1.9:40122 - default"
)


@pytest.mark.parametrize(
    ("xff", "ip"),
    [("198.51.100.7", "198.51.100.7"), ("203.0.113.5, 198.51.100.7", "198.51.100.7"), ("-", None)],
)
def test_envoys_default_log_takes_the_client_from_x_forwarded_for(
    tmp_path: Path, xff: str, ip: str | None
) -> None:
    # Envoy's default format logs no peer: the header's last entry is the address the
    # proxy saw (a line without one has no address: the worker refuses it, said)
    line = ENVOY.format(xff=xff)
    found = detect_format(write_log(tmp_path, [line]))
    assert found.name == "envoy"
    ev = LogParser(found.fmt).parse_line(line, 1)
    assert ev is not None and ev["ip"] == ip and ev["path"] == "/profiles/31"
    assert ev["ts"] == 1795687201.31
    # behind a load balancer of yours: its entry is passed as a proxy's
    behind = LogParser(found.fmt, forwarded_for=TrustedProxies(["198.51.100.0/24"]))
    ev = behind.parse_line(line, 1)
    assert ev is not None and ev["ip"] == ("203.0.113.5" if "," in xff else ip)


def test_istios_log_names_its_peer(tmp_path: Path) -> None:
    found = detect_format(write_log(tmp_path, [ISTIO]))
    assert found.name == "istio"
    ev = LogParser(found.fmt).parse_line(ISTIO, 1)
    assert ev is not None and (ev["ip"], ev["status"]) == ("10.44.1.9", 200)
    proxied = LogParser(found.fmt, forwarded_for=TrustedProxies(["10.44.0.0/16"]))
    ev = proxied.parse_line(ISTIO, 1)
    assert ev is not None and ev["ip"] == "203.0.113.50"


def test_a_user_agent_with_quotes_cannot_choose_an_istio_lines_peer() -> None:
    # from the review: Envoy writes a header's quotes unescaped; a user agent that closes
    # the quoted fields and writes a tail of its own named the peer (6.6.6.6), and the
    # last field's ".*" swallowed the real tail. Now such a line matches nothing
    ua = 'Mozilla/5.0" "r" "a" "u" c u d 6.6.6.6:1 - x'
    line = ISTIO.replace('"Mozilla/5.0 (X11; Linux x86_64)"', f'"{ua}"')
    ev = LogParser(KNOWN_FORMATS["istio"]).parse_line(line, 1)
    assert ev is None or ev["ip"] == "10.44.1.9"


def test_only_envoys_format_takes_its_address_from_x_forwarded_for() -> None:
    # a format of your own without $remote_addr takes no address from a header its
    # client writes (nginx appends nothing to it)
    own = LogParser('[$time_local] "$request" $status "$http_x_forwarded_for"')
    ev = own.parse_line('[17/May/2015:10:05:03 +0000] "GET / HTTP/1.1" 200 "1.1.1.1"', 1)
    assert ev is not None and ev["ip"] is None


def test_envoys_tcp_lines_are_no_requests() -> None:
    line = ENVOY.format(xff="-").replace('"GET /profiles/31?x=1 HTTP/2" 200', '"- - -" 0')
    assert LogParser(KNOWN_FORMATS["envoy"]).parse_line(line, 1) is None
