"""An actor's name taken apart: tenant, scope and value (``t1/account:42`` → ``t1``,
``account``, ``42``), and the scopes enforcement can name.

The detector's actors are ``account:…``, ``session:…`` and ``ip:…`` (with a ``tenant/``
prefix when the event had a tenant; see :func:`stream.core.validation.actor_key`). A
manual decision may also name an address range, ``range:203.0.113.0/24``. Parsing is
total: an actor or raises ValueError with a sentence for the caller (a 400 on the API,
a CLI error).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache

SCOPES = ("account", "session", "ip", "range")
MAX_ACTOR_CHARS = 1100  # tenant and id are at most 512 characters each in events


@dataclass(frozen=True, slots=True)
class ActorRef:
    tenant: str | None
    scope: str  # account | session | ip | range
    value: str  # for ip and range: the normalised address or network

    @property
    def key(self) -> str:
        """The actor as the detector names it (``[tenant/]scope:value``)."""
        name = f"{self.scope}:{self.value}"
        return name if self.tenant is None else f"{self.tenant}/{name}"

    @property
    def is_network(self) -> bool:
        return self.scope in ("ip", "range")


def _scope_at(text: str, i: int) -> str | None:
    for scope in SCOPES:
        if text.startswith(scope + ":", i):
            return scope
    return None


def parse_actor(text: str) -> ActorRef:
    """``[tenant/]account:ID`` | ``session:ID`` | ``ip:ADDRESS`` | ``range:CIDR``."""
    if not isinstance(text, str) or not text:
        raise ValueError("an actor is account:ID, session:ID, ip:ADDRESS or range:CIDR")
    if len(text) > MAX_ACTOR_CHARS:
        raise ValueError(f"an actor is at most {MAX_ACTOR_CHARS} characters")
    tenant: str | None = None
    start = 0
    scope = _scope_at(text, 0)
    if scope is None:
        # a tenant prefix: the first "/" followed by a scope (a tenant may contain "/")
        i = text.find("/")
        while i != -1 and scope is None:
            scope = _scope_at(text, i + 1)
            if scope is None:
                i = text.find("/", i + 1)
        if scope is None or i == 0:
            raise ValueError(
                f"{text[:80]!r} is not an actor: expected [tenant/]account:ID, session:ID, "
                "ip:ADDRESS or range:CIDR"
            )
        tenant, start = text[:i], i + 1
    value = text[start + len(scope) + 1 :]
    if not value:
        raise ValueError(f"{text[:80]!r}: the {scope} is empty")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ValueError("an actor may not contain control characters")
    if scope == "ip":
        value = normalise_ip(value)
    elif scope == "range":
        try:
            value = str(normalise_network(value))
        except ValueError:
            raise ValueError(f"{value[:80]!r} is not an address range (CIDR)") from None
    return ActorRef(tenant, scope, value)


_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


def normalise_network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """A range (CIDR), an IPv4-mapped IPv6 one (``::ffff:198.51.100.0/120``) as its IPv4
    range (``198.51.100.0/24``): events name such clients by their IPv4 address
    (:func:`normalise_ip`). ValueError when it is not a range."""
    net = ipaddress.ip_network(text, strict=False)
    if isinstance(net, ipaddress.IPv6Network) and net.prefixlen >= 96 and net.subnet_of(_MAPPED):
        mapped = net.network_address.ipv4_mapped
        assert mapped is not None
        return ipaddress.IPv4Network(f"{mapped}/{net.prefixlen - 96}")
    return net


@lru_cache(maxsize=65536)
def normalise_ip(text: str) -> str:
    """An address in its canonical text form (``2001:DB8:0::1`` → ``2001:db8::1``), an
    IPv4-mapped IPv6 one as its IPv4 (``::ffff:198.51.100.9`` → ``198.51.100.9``, as
    dual-stack servers log IPv4 clients: else every IPv4 client would be one /64). Events,
    actors, ranges and ``/check`` all name addresses so. ValueError when it is not one."""
    try:
        addr = ipaddress.ip_address(text)
        mapped = addr.ipv4_mapped if isinstance(addr, ipaddress.IPv6Address) else None
        return str(mapped if mapped is not None else addr)
    except ValueError:
        raise ValueError(f"{text[:80]!r} is not an IPv4 or IPv6 address") from None
