"""X-Forwarded-For in access logs: the client's address behind a proxy of one's own.

Behind a load balancer every ``$remote_addr`` of a log is the balancer's, and every
logged-out request one actor. The balancer appends the address it saw to the
``X-Forwarded-For`` header; the entries before it are the client's to write. So the
address is the header's *last* entry, and only on requests that came through a proxy the
operator names (``replay --forwarded-for CIDR``, as nginx's ``set_real_ip_from``): a
request that reached the server directly could name any address it likes.
"""

from __future__ import annotations

import ipaddress
from ipaddress import IPv4Network, IPv6Network

Network = IPv4Network | IPv6Network
# what proxies write for an address they hide (RFC 7239's "unknown", obfuscated "_x")
HIDDEN = ("unknown",)


def address_of(entry: str) -> str | None:
    """One entry of the header as an address (a port or IPv6 brackets taken off), or
    None when it names none."""
    text = entry.strip()
    if text.startswith("["):  # "[2001:db8::1]:443"
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # "203.0.113.9:5678"
        text = text.partition(":")[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def forwarded_address(header: str) -> str | None:
    """The address the proxy in front of the server saw: the header's last entry, if it
    names one (several header lines joined with commas, as HTTP joins them)."""
    return address_of(header.rpartition(",")[2])


def looks_forwarded(header: str) -> bool:
    """Whether a logged field reads as X-Forwarded-For: empty, ``-``, or addresses
    (``unknown`` or obfuscated ones among them) — not a host name, nor a time."""
    if header.strip() in ("", "-"):
        return True
    entries = [e.strip() for e in header.split(",")]
    return all(
        address_of(e) is not None or e.lower() in HIDDEN or e.startswith("_") for e in entries
    )


def parse_proxies(text: str) -> tuple[Network, ...]:
    """``10.0.0.0/8,192.0.2.7`` → networks; ValueError naming the bad one."""
    nets = []
    for part in (p.strip() for p in text.split(",")):
        try:
            nets.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"{part!r} is no address or network (CIDR)") from None
    return tuple(nets)


def through(remote_addr: str | None, proxies: tuple[Network, ...]) -> bool:
    """Whether a request from ``remote_addr`` came through one of ``proxies``."""
    if not remote_addr or not proxies:
        return False
    try:
        addr = ipaddress.ip_address(remote_addr)
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return any(addr.version == net.version and addr in net for net in proxies)
