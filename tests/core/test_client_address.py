"""The client's address behind trusted proxies (:mod:`stream.core.client_address`), as
``/check`` and ``replay --forwarded-for`` read it."""

import pytest

from stream.core.client_address import TrustedProxies, valid_address

PROXIES = TrustedProxies(["10.0.0.0/8"])


@pytest.mark.parametrize(
    ("header", "address"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("6.6.6.6, 203.0.113.9", "203.0.113.9"),  # the entries before are the client's
        ("6.6.6.6, 203.0.113.9, 10.0.0.7", "203.0.113.9"),  # past a second proxy of ours
        ("203.0.113.9:5678", "203.0.113.9"),  # Azure's gateway adds the port
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("2001:DB8::1", "2001:db8::1"),
        ("203.0.113.9,", "203.0.113.9"),  # an empty entry is no hop
        ("unknown", None),
        ("_hidden", None),
        ("www.example.com", None),
        ("01.2.3.4", None),
        ("-", None),
    ],
)
def test_a_request_from_a_proxy_is_its_nearest_untrusted_hop(
    header: str, address: str | None
) -> None:
    assert PROXIES.client("10.0.0.5", header) == address


def test_a_request_from_anywhere_else_is_its_peer() -> None:
    assert PROXIES.client("203.0.113.1", "198.51.100.66") == "203.0.113.1"
    assert PROXIES.client("::ffff:10.0.0.5", "198.51.100.66") == "198.51.100.66"  # mapped
    assert PROXIES.client(None, "198.51.100.66") is None


def test_a_network_that_is_none_is_named() -> None:
    with pytest.raises(ValueError, match=r"'10\.0\.0\.0/33' is no address or network"):
        TrustedProxies(["10.0.0.0/33"])
    assert valid_address("") is None and valid_address(" 203.0.113.9 ") == "203.0.113.9"
