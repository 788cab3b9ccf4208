"""The demo website under its Content-Security-Policy in Chromium (bot/http/security_headers.py):
its own script and styles run (the ``?as=`` customer switch, the English page), the widget sends
and receives, and the browser reports no violation of the policy; a script injected into the
page is refused. (Here, not in tests/security/, to share the browser tests' running system.)"""

from __future__ import annotations

import json

import pytest

from bot.http.security_headers import PAGE_CSP
from tests.support.browser import CHROMIUM

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's Chromium is not installed at /usr/bin/chromium (apt-get install chromium); CI installs it",
)

from playwright.sync_api import expect  # noqa: E402

from tests.support.widget import open_widget, say  # noqa: E402

WATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__violations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline'));
});
"""


def watched(chromium):
    """A page whose CSP violations are collected, from the browser's console and from the DOM's events."""
    page = chromium.page()
    console = []
    page.on("console", lambda message: console.append(message.text))
    page.add_init_script(WATCH_VIOLATIONS)
    return page, console


def violations(page, console):
    return [m for m in console if "Content Security Policy" in m] + page.evaluate("window.__violations")


def test_the_demo_page_works_under_its_policy_as_a_verified_customer(chromium):
    page, console = watched(chromium)
    sessions, sockets = [], []
    page.on("response", lambda r: sessions.append(r) if r.url.endswith("/api/v1/sessions") else None)
    page.on("websocket", lambda ws: sockets.append(ws))
    response = page.goto(chromium.base_url + "/?as=demo-standard")
    assert response.headers["content-security-policy"] == PAGE_CSP
    expect(page.locator("#demo-who")).to_contain_text("demo-standard")  # demo.js ran and got the token
    assert "linear-gradient" in page.locator(".hero").evaluate("e => getComputedStyle(e).backgroundImage")  # demo.css
    open_widget(page)
    expect(say(page, "你好")).to_be_visible()  # sent over HTTP, answered; the WebSocket is allowed too
    assert json.loads(sessions[-1].request.post_data)["identity_token"]
    assert sessions[-1].json()["customer"]["verified"] is True
    assert [ws for ws in sockets if "/api/v1/ws" in ws.url and not ws.is_closed()]  # connect-src allows it
    assert violations(page, console) == []
    chromium.shot(page)

    # The policy is enforced: markup injected into the page runs nothing.
    page.evaluate("""() => {
        const tag = document.createElement('script');
        tag.textContent = 'window.injected = true';
        document.body.appendChild(tag);
        document.body.insertAdjacentHTML('beforeend', '<img src="x" onerror="window.injected = true">');
    }""")
    page.wait_for_function("() => window.__violations.length >= 2")
    assert page.evaluate("window.injected") is None


def test_the_english_demo_page_works_under_its_policy(chromium):
    page, console = watched(chromium)
    page.goto(chromium.base_url + "/?lang=en")
    assert page.evaluate("document.documentElement.lang") == "en"
    open_widget(page, "en")
    expect(say(page, "What is the minimum for Cash Plus?")).to_be_visible()
    assert violations(page, console) == []
