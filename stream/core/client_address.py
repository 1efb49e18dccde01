"""The client's address behind proxies one trusts: :class:`TrustedProxies`.

A request from a trusted proxy (a load balancer of one's own) names its client in
``X-Forwarded-For``; each proxy appends the address it saw, and the entries before are the
client's to write. So the header is read right to left, past the trusted proxies, and the
first address no trusted proxy vouches for is the client's. A request from anywhere else
is its peer's address: its headers are its own to write. ``GET /check`` reads its
requests so (:mod:`stream.api.check`), and ``replay --forwarded-for`` a log's lines.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from stream.core.actor_ref import normalise_ip, normalise_network


def valid_address(text: str | None) -> str | None:
    """``text`` as an address in its canonical form (a port, or IPv6 brackets, taken off:
    ``203.0.113.9:5678``, ``[2001:db8::1]:443``); None when it names none."""
    if not text:
        return None
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        return normalise_ip(text)
    except ValueError:
        return None


class TrustedProxies:
    """The networks of the proxies whose ``X-Forwarded-For`` is believed."""

    def __init__(self, networks: Iterable[str]) -> None:
        """ValueError naming a network that is none."""
        self.nets = []
        for text in networks:
            try:
                # an IPv4-mapped range as its IPv4 range, as peers and hops are read
                self.nets.append(normalise_network(text))
            except ValueError:
                raise ValueError(f"{text!r} is no address or network (CIDR)") from None
        self.vouches = lru_cache(maxsize=4096)(self._vouches)

    def _vouches(self, addr: str) -> bool:
        """Whether ``addr`` is one of the trusted proxies."""
        valid = valid_address(addr)
        if valid is None:
            return False
        ip = ipaddress.ip_address(valid)
        return any(ip in net for net in self.nets)

    def client(self, peer: str | None, forwarded: str) -> str | None:
        """The client's address of a request from ``peer`` that carried ``forwarded``
        (every line of the header joined with commas: a proxy may add its own line after
        the client's); None when that address is no address."""
        if peer is None or not self.vouches(peer):
            return valid_address(peer)
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        for hop in reversed(hops):
            if not self.vouches(hop):
                return valid_address(hop)  # the nearest address no trusted proxy vouches for
        return valid_address(hops[0] if hops else peer)
