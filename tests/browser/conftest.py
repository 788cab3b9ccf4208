"""Browser tests of the website chat widget (channels/web/static/).

The real system runs on free loopback ports: the action server, Rasa and the contact service
(``bot.launcher.Assistant`` with ``contact_port``), with its own throw-away database. Debian's
Chromium (``/usr/bin/chromium``) is driven with Playwright's sync API; every test launches it
afresh, so each starts with new, empty user data (no localStorage, no cache).

``WIDGET_TEST_URL=http://127.0.0.1:8080`` runs the tests against a contact service that is
already running (e.g. ``make run``) instead of starting one.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
from pathlib import Path
from typing import Iterator, List

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_system(tmp_path_factory, name: str, **env: str) -> Iterator[str]:
    """The whole system on free loopback ports with its own SQLite database, the clock frozen
    inside agent hours unless ``env`` says otherwise; yields the contact service's URL."""
    from bot.launcher import Assistant

    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path_factory.mktemp(name) / 'contact.db'}",
        "SESSION_SECRET": "browser-tests-session-secret-0123456789abcdef",
        "CONTACT_DEMO": "1",
        "CONTACT_SESSIONS_PER_MINUTE": "1000",
        "EVERGREEN_CLOCK": "2026-11-30T10:00:00+08:00",  # a Monday, 10:00 Beijing time
        **env,
    }
    logs = ROOT / "test-artifacts" / "browser-logs" / name
    with Assistant(ROOT / "models" / "current.tar.gz", free_port(), free_port(), logs,
                   contact_port=free_port(), service_env=env) as running:
        yield running.contact_url


@pytest.fixture(scope="module")
def bot_api():
    """A stand-in for api.telegram.org recording every call (modules with the Telegram channel)."""
    from tests.telegram.capture import BotApi
    from tests.telegram.conftest import TOKEN

    api = BotApi(TOKEN).start()
    yield api
    api.stop()


@pytest.fixture(scope="session")
def contact_url(tmp_path_factory) -> Iterator[str]:
    """Base URL of the contact service, which serves the demo page and the widget."""
    if os.environ.get("WIDGET_TEST_URL"):
        yield os.environ["WIDGET_TEST_URL"].rstrip("/")
        return
    with running_system(tmp_path_factory, "contact") as url:
        yield url


@pytest.fixture
def playwright():
    """Per test: Playwright's sync API holds the thread's event loop while it is started, which
    would break the asyncio tests that run after the browser tests."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


class Browser:
    """One Chromium launch (fresh user data); ``page()`` opens pages in one context of it."""

    def __init__(self, playwright, base_url: str, name: str):
        self.base_url = base_url
        self.name = name
        self.browser = None
        self.contexts: List = []
        self.pages: List = []
        self.page_errors: List[str] = []
        self._playwright = playwright

    def launch(self):
        self.browser = self._playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        return self

    def page(self, viewport=DESKTOP, **options):
        context = self.browser.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai", **options)
        context.set_default_timeout(20_000)
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        self.pages.append(page)
        return page

    def shot(self, page, label: str = "") -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / (self.name + (f"-{label}" if label else "") + ".png")
        page.screenshot(path=str(path), animations="disabled")
        return path

    def close(self):
        for context in self.contexts:
            context.close()
        if self.browser:
            self.browser.close()


@pytest.fixture
def chromium(playwright, contact_url, request) -> Iterator[Browser]:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    browser = Browser(playwright, contact_url, name).launch()
    yield browser
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        for number, page in enumerate(browser.pages):
            try:
                browser.shot(page, f"FAILED-{number}")
            except Exception:
                pass
    errors = list(browser.page_errors)
    browser.close()
    assert not errors, f"uncaught JavaScript errors on the page: {errors}"
