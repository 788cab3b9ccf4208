"""Browser tests of the website chat widget (channels/web/static/).

The real system runs on free loopback ports: the action server, Rasa and the contact service
(``bot.launcher.Assistant`` with ``contact_port``), with its own throw-away database. Debian's
Chromium (``/usr/bin/chromium``) is driven with Playwright's sync API; every test launches it
afresh, so each starts with new, empty user data (no localStorage, no cache).

``WIDGET_TEST_URL=http://127.0.0.1:8080`` runs the tests against a contact service that is
already running (e.g. ``make run``) instead of starting one.
"""

from __future__ import annotations

import os
import re
from typing import Iterator

import pytest

from bot.core.staff import DEMO_AGENT, DEMO_SUPERVISOR
from tests.support.browser import Browser, running_system
from tests.support.console_page import StaffSession
from tests.support.imap_server import DovecotServer
from tests.support.smtp_server import SmtpServer
from tests.support.telegram import TOKEN
from tests.support.telegram_api import BotApi


@pytest.fixture(scope="module")
def bot_api():
    """A stand-in for api.telegram.org recording every call (modules with the Telegram channel);
    one per module, since the browser tests' system has one database (tests/conftest.py's
    ``bot_api`` is one per database)."""
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


@pytest.fixture
def empty_queue_afterwards(contact_url):
    """Hand every conversation a test left with the agents back to the assistant, so that the
    tests after it (the widget's too) find an empty queue."""
    yield
    supervisor, agent = StaffSession(contact_url, DEMO_SUPERVISOR), StaffSession(contact_url, DEMO_AGENT)
    status, queue = supervisor.call("GET", "/console/api/queue")
    assert status == 200, queue
    for handoff in queue["waiting"]:
        supervisor.call("POST", f"/console/api/handoffs/{handoff['id']}/claim")
        supervisor.call("POST", f"/console/api/handoffs/{handoff['id']}/resolve")
    for handoff in queue["with_agents"]:
        staff = agent if handoff["agent_id"] == DEMO_AGENT else supervisor
        staff.call("POST", f"/console/api/handoffs/{handoff['id']}/resolve")


@pytest.fixture(scope="module")
def mail_servers(tmp_path_factory):
    """An IMAP server (dovecot) and an SMTP server for a module whose system has the email
    channel on (it overrides ``contact_url`` with ``email_env(*mail_servers)``)."""
    dovecot, smtp = DovecotServer().start(), SmtpServer(tmp_path_factory.mktemp("smtp")).start()
    yield dovecot, smtp
    dovecot.cleanup()
    smtp.stop()
