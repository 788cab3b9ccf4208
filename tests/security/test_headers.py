"""Security headers over real HTTP (bot/http/security_headers.py): the demo page and the console
run no inline script or style and cannot be framed; the widget's files stay loadable by other
sites but are never sniffed; the console's cookie is Secure when the browser came over HTTPS —
through a trusted proxy that says so, never because a client says so — or always when forced.
The demo page under its policy in Chromium: tests/browser/test_headers_csp.py."""

from __future__ import annotations

import http.client
import json
from html.parser import HTMLParser
from typing import Dict, List, Optional, Tuple

import pytest

from bot.http.security_headers import PAGE_CSP
from bot.core.settings import ROOT
from bot.core.staff import DEMO_AGENT, demo_password
from tests.support.ports import free_port
from tests.support.system import contact_service_alone


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    """The service behind a TLS-terminating proxy at 127.0.0.1 (this test speaks as it)."""
    with contact_service_alone(tmp_path_factory.mktemp("proxied"), free_port(), TRUSTED_PROXIES="127.0.0.1") as url:
        yield url


@pytest.fixture(scope="module")
def forced(tmp_path_factory):
    with contact_service_alone(tmp_path_factory.mktemp("forced"), free_port(), CONSOLE_SECURE_COOKIES="1") as url:
        yield url


def fetch(url: str, path: str, method: str = "GET", body: Optional[dict] = None, headers: Optional[Dict[str, str]] = None,
          source: str = "127.0.0.1") -> Tuple[int, http.client.HTTPMessage, bytes]:
    """One request from the loopback address ``source`` (127.0.0.2 is not the trusted proxy)."""
    host, port = url.split("//")[1].split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60, source_address=(source, 0))
    try:
        connection.request(method, path, body=json.dumps(body) if body is not None else None,
                           headers={"Content-Type": "application/json", **(headers or {})})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def test_the_demo_page_runs_only_our_own_files_and_cannot_be_framed(proxied):
    status, headers, _ = fetch(proxied, "/")
    assert status == 200 and headers["Content-Security-Policy"] == PAGE_CSP
    policy = dict(part.strip().split(" ", 1) for part in PAGE_CSP.split(";"))
    assert policy["script-src"] == policy["style-src"] == "'self'" and policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in PAGE_CSP and policy["object-src"] == "'none'" and policy["base-uri"] == "'none'"
    assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"


class InlineCode(HTMLParser):
    """Script and style written into the page itself, which its policy would refuse to run."""

    def __init__(self) -> None:
        super().__init__()
        self.found: List[str] = []
        self._inside: Optional[str] = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.found += [f"{tag} {name}=" for name in attributes if name.startswith("on") or name == "style"]
        if tag == "script" and "src" not in attributes or tag == "style":
            self._inside = tag
        if tag == "a" and (attributes.get("href") or "").lower().startswith("javascript:"):
            self.found.append("javascript: link")

    def handle_data(self, data):
        if self._inside and data.strip():
            self.found.append(f"inline <{self._inside}>")

    def handle_endtag(self, tag):
        self._inside = None


def test_the_demo_page_has_no_inline_script_or_style():
    parser = InlineCode()
    parser.feed((ROOT / "channels" / "web" / "static" / "demo.html").read_text())
    assert parser.found == []


@pytest.mark.parametrize("path", ["/static/widget.js", "/static/shared.js", "/static/widget.css", "/static/demo.js"])
def test_the_widgets_files_load_on_other_sites_and_are_never_sniffed(proxied, path):
    status, headers, _ = fetch(proxied, path, headers={"Origin": "https://www.firm.example"})
    assert status == 200 and headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cross-Origin-Resource-Policy"] == "cross-origin"  # the firm's pages load them
    assert "default-src 'none'" in headers["Content-Security-Policy"]  # opened by itself, it runs nothing
    assert "X-Frame-Options" not in headers


def test_the_console_keeps_its_policy(proxied):
    status, headers, _ = fetch(proxied, "/console/")
    assert status == 200 and headers["Content-Security-Policy"] == PAGE_CSP and headers["X-Frame-Options"] == "DENY"


def login_cookie(url: str, source: str = "127.0.0.1", **headers: str) -> str:
    status, response_headers, body = fetch(url, "/console/api/login", "POST",
                                           {"id": DEMO_AGENT, "password": demo_password(DEMO_AGENT)}, headers, source)
    assert status == 200, body
    return response_headers["Set-Cookie"]


def secure(cookie: str) -> bool:
    return "secure" in [part.strip().lower() for part in cookie.split(";")]


def test_the_console_cookie_is_secure_behind_a_trusted_https_proxy(proxied):
    assert secure(login_cookie(proxied, **{"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.9"}))
    assert not secure(login_cookie(proxied))  # plain HTTP (a browser would drop a Secure cookie there)
    assert not secure(login_cookie(proxied, **{"X-Forwarded-Proto": "http"}))
    # a client that is not our proxy cannot claim HTTPS
    assert not secure(login_cookie(proxied, source="127.0.0.2", **{"X-Forwarded-Proto": "https"}))


def test_the_console_cookie_can_be_forced_secure(forced):
    cookie = login_cookie(forced)
    assert secure(cookie) and "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
