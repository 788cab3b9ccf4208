"""Browser tests: Debian's Chromium driven by Playwright, and the whole system they run against
(``running_system``: its own SQLite database, the clock frozen inside agent hours)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator, List

from tests.support.ports import free_port
from tests.support.system import IN_HOURS, MODEL, ROOT

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
        "EVERGREEN_CLOCK": IN_HOURS,  # a Monday, 10:00 Beijing time
        **env,
    }
    logs = ROOT / "test-artifacts" / "browser-logs" / name
    with Assistant(MODEL, free_port(), free_port(), logs,
                   contact_port=free_port(), service_env=env) as running:
        yield running.contact_url


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
