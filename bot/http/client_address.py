"""The address of the client behind a request, also behind a reverse proxy (``TRUSTED_PROXIES``).

Limits (new sessions, WebSockets, console logins, urgent complaints) count per client address and
the audit log records it. Behind a reverse proxy every request comes from the proxy, so the
client's own address is taken from ``X-Forwarded-For`` — but only when the request's peer is a
proxy the operator listed: anyone else could write any address there. Each proxy appends the
address it received the request from, so the list is read from the right, skipping the proxies we
trust; the first address that is not one of them is the client (whatever the client wrote further
left is ignored). Without a trusted peer the header is ignored and the peer is the client.

Sanic's own ``PROXIES_COUNT`` / ``REAL_IP_HEADER`` are not used: they believe the header from any
peer, so a client that reaches the service directly (not through the proxy) could pick its address
and escape every limit. ``FORWARDED_SECRET`` needs a proxy that adds a secret to RFC 7239's
``Forwarded``, which the usual proxy configurations (``X-Forwarded-For``) do not.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Optional, Sequence, Union

from bot.http.settings import Network

if TYPE_CHECKING:
    from sanic.request import Request

Address = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]


def _address(text: str) -> Optional[Address]:
    """An IP address as proxies write it (``203.0.113.7``, ``2001:db8::1``, ``[2001:db8::1]``,
    also with a port), IPv4-mapped IPv6 as IPv4; None if it is none."""
    text = text.strip()
    if text.startswith("["):  # [v6] or [v6]:port
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def _trusted(address: Optional[Address], trusted: Sequence[Network]) -> bool:
    return address is not None and any(address in network for network in trusted)


def client_address(request: Request, trusted: Sequence[Network]) -> str:
    """The client's IP address (module docstring): the peer's, or, when the peer is a trusted
    proxy, the right-most ``X-Forwarded-For`` entry that is not a trusted proxy. An entry that is
    not an address (a proxy writing ``unknown``) stops the walk at the proxy that wrote it."""
    peer = _address(request.ip)
    if not _trusted(peer, trusted):
        return str(peer) if peer else request.ip
    hops = [hop for header in request.headers.getall("x-forwarded-for", []) for hop in header.split(",") if hop.strip()]
    client = peer
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break
        client = address
        if not _trusted(address, trusted):
            break
    return str(client)


def over_https(request: Request, trusted: Sequence[Network]) -> bool:
    """Whether the browser reached us over HTTPS: our own TLS, or a trusted proxy saying so in
    ``X-Forwarded-Proto`` (the first value: the proxy facing the browser)."""
    if request.transport is not None and request.transport.get_extra_info("sslcontext"):
        return True
    if not _trusted(_address(request.ip), trusted):
        return False
    proto = request.headers.get("x-forwarded-proto", "")
    return proto.split(",")[0].strip().lower() == "https"


def request_address(request: Request) -> str:
    """The client's address of a request to the contact service (its real one behind a trusted
    proxy: ``request.app.ctx.settings``), for limits and the audit log."""
    return client_address(request, request.app.ctx.settings.trusted_proxies)
