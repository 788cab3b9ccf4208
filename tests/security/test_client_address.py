"""Which address the limits count (bot/http/client_address.py), as an attacker would try it:
a forged X-Forwarded-For from a peer that is not our proxy, addresses added in front of the real
one, garbage, ports, IPv6. The same rules over real HTTP are in test_limits.py."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Dict, List, Optional

import pytest
from sanic.compat import Header

from bot.http.settings import HttpSettings as Settings, trusted_proxies
from bot.http.client_address import client_address, over_https


PROXIES = trusted_proxies("10.0.0.5, 172.16.0.0/12, 2001:db8:1::/48")


def request(peer: str, forwarded_for: Optional[List[str]] = None, proto: Optional[str] = None) -> SimpleNamespace:
    """What client_address reads of a Sanic request: the peer, the headers, the transport."""
    headers: Dict[str, str] = Header()
    for value in forwarded_for or []:
        headers.add("X-Forwarded-For", value)
    if proto:
        headers.add("X-Forwarded-Proto", proto)
    return SimpleNamespace(ip=peer, headers=headers, transport=None)


@pytest.mark.parametrize("peer, forwarded_for, expected", [
    # no proxy in front: the peer, whatever the client wrote
    ("203.0.113.9", None, "203.0.113.9"),
    ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),
    ("127.0.0.1", ["198.51.100.1"], "127.0.0.1"),  # loopback is not trusted unless listed
    # our proxy: the address it received the request from
    ("10.0.0.5", ["198.51.100.1"], "198.51.100.1"),
    ("10.0.0.5", None, "10.0.0.5"),  # the proxy itself (a health check)
    # the client wrote addresses of its own in front: the right-most untrusted one counts
    ("10.0.0.5", ["1.2.3.4, 5.6.7.8, 198.51.100.1"], "198.51.100.1"),
    ("10.0.0.5", ["1.2.3.4", "198.51.100.1"], "198.51.100.1"),  # two header lines: one list
    # a chain of our proxies (a load balancer in 172.16/12 behind the edge)
    ("10.0.0.5", ["1.2.3.4, 198.51.100.1, 172.20.0.3"], "198.51.100.1"),
    ("10.0.0.5", ["172.20.0.3, 10.0.0.5"], "172.20.0.3"),  # only proxies: the furthest
    # forms proxies write
    ("10.0.0.5", ["198.51.100.1:52311"], "198.51.100.1"),
    ("10.0.0.5", ["[2001:db8:2::7]:443"], "2001:db8:2::7"),
    ("2001:db8:1::10", ["2001:db8:2::7"], "2001:db8:2::7"),
    ("::ffff:10.0.0.5", ["198.51.100.1"], "198.51.100.1"),  # IPv4-mapped peer
    # garbage stops at the proxy that wrote it, never counts as an address of the client's choice
    ("10.0.0.5", ["unknown"], "10.0.0.5"),
    ("10.0.0.5", ["198.51.100.1, <script>, 172.20.0.3"], "172.20.0.3"),
])
def test_the_client_is_the_right_most_address_no_trusted_proxy_wrote(peer, forwarded_for, expected):
    assert client_address(request(peer, forwarded_for), PROXIES) == expected


def test_without_trusted_proxies_the_header_is_ignored():
    assert client_address(request("10.0.0.5", ["198.51.100.1"]), ()) == "10.0.0.5"


def test_https_is_believed_only_from_a_trusted_proxy():
    assert over_https(request("10.0.0.5", ["198.51.100.1"], proto="https"), PROXIES)
    assert over_https(request("10.0.0.5", None, proto="HTTPS, http"), PROXIES)
    assert not over_https(request("10.0.0.5", None, proto="http"), PROXIES)
    assert not over_https(request("203.0.113.9", None, proto="https"), PROXIES)  # anyone can send the header
    assert not over_https(request("10.0.0.5"), PROXIES)


def test_the_setting_is_read_and_a_typo_stops_the_service_with_its_name(monkeypatch):
    monkeypatch.setenv("TRUSTED_PROXIES", " 10.0.0.5 ,, 192.168.0.0/16 ")
    assert [str(n) for n in Settings().trusted_proxies] == ["10.0.0.5/32", "192.168.0.0/16"]
    monkeypatch.delenv("TRUSTED_PROXIES")
    assert Settings().trusted_proxies == ()
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.5, proxy.example")
    with pytest.raises(ValueError, match="TRUSTED_PROXIES: 'proxy.example'"):
        Settings()
