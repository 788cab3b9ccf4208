"""Waits over the service level and left messages as supervisors see them (docs/console.md,
"Honest waiting"), in Debian's Chromium against this module's own system, whose clock is a file
the test moves (``EVERGREEN_CLOCK_FILE``). Two customers ask for an agent while nobody is online:
one waits on, the other leaves a message. The supervisor's console (Chinese) shows the wait, not
highlighted; past the service level (the system's clock and the page's moved together, no new
answer of the queue) the row is highlighted with its label and counted in the queue's header,
while the left message keeps its badge and is not; taken, the late one is marked in the
supervisor's list of conversations with agents; the dashboard (English) counts the wait over the
level, the left message and no callback. Screenshots in test-artifacts/screenshots/."""

from __future__ import annotations

import pytest

from bot.core.staff import DEMO_SUPERVISOR
from tests.support.browser import CHROMIUM, running_system
from tests.support.clients import Client, texts
from tests.support.clock import Clock
from tests.support.system import IN_HOURS

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's Chromium is not installed at /usr/bin/chromium (apt-get install chromium); CI installs it",
)

from playwright.sync_api import expect  # noqa: E402

from tests.support.console_page import console, log_in, logged_in, queue_row, text  # noqa: E402

LEVEL = 120  # seconds (CONTACT_WAIT_SERVICE_LEVEL's default)


@pytest.fixture(scope="module")
def moving_clock(tmp_path_factory):
    return Clock(tmp_path_factory.mktemp("clock") / "clock.json", IN_HOURS)


@pytest.fixture(scope="module")
def contact_url(tmp_path_factory, moving_clock):
    """This module's own system, on the module's clock (overrides conftest's)."""
    with running_system(tmp_path_factory, "service-level", **moving_clock.env) as url:
        yield url


def queued(contact_url, leave_message=False) -> str:
    """A customer who asked for an agent with nobody online (and left a message, if told); their
    conversation's id."""
    customer = Client(contact_url)
    conversation_id = customer.start()["conversation_id"]
    answer = customer.say("我要转人工")
    assert "正在为您转接人工客服" in texts(answer)
    if leave_message:
        choices = [m for m in customer.history() if m["sender"] == "system"]
        assert "请把想告诉客服的内容发在这里" in texts(customer.tap(choices, "给客服留言"))
        customer.say("我想把绑定的银行卡换成招商银行的")
    return conversation_id


def test_a_wait_over_the_service_level_is_highlighted_and_counted_and_a_left_message_is_not(chromium, contact_url, moving_clock):
    waiting, message = queued(contact_url), queued(contact_url, leave_message=True)

    page = console(chromium)
    page.clock.install()  # the page's clock, moved with the system's below
    page.reload()
    queue_loads = []
    page.on("request", lambda request: queue_loads.append(request.url) if request.url.endswith("/console/api/queue") else None)
    log_in(page, DEMO_SUPERVISOR, language="zh")
    logged_in(page, "Demo Supervisor", "zh")
    waiting_row, message_row = queue_row(page, waiting), queue_row(page, message)
    over_label = text("sla.over", "zh", level="2 分钟")
    header = page.locator("#sla-over")
    expect(waiting_row).to_have_attribute("data-over-service-level", "false")
    expect(waiting_row).not_to_contain_text(over_label)
    expect(header).to_have_text("0 " + text("sla.over_count", "zh", level="2 分钟"))
    expect(message_row.locator(".c-badge--message")).to_have_text("留言")
    expect(message_row).to_contain_text("留言于 2026-11-30 10:00 周一")
    chromium.shot(page, "within")

    loads = len(queue_loads)
    moving_clock.forward(LEVEL + 1)
    page.clock.fast_forward((LEVEL + 1) * 1000)
    expect(waiting_row).to_have_attribute("data-over-service-level", "true")
    expect(waiting_row).to_have_class("c-row c-row--over")
    expect(waiting_row.locator(".c-sla-over")).to_have_text("已超过服务时限（2 分钟）")
    expect(waiting_row.locator(".c-wait-time")).to_have_text("2 分钟")
    expect(header).to_have_text("1 位等待超过服务时限（2 分钟）")
    expect(header).to_have_class("c-stat c-stat--sla c-stat--over")
    expect(message_row).to_have_attribute("data-over-service-level", "false")
    expect(message_row).not_to_contain_text(over_label)
    expect(message_row.locator(".c-badge--message")).to_have_text("留言")
    assert len(queue_loads) == loads, "the row turned over the level without a new answer of the queue"
    chromium.shot(page, "over")

    page.reload()  # the server's word agrees
    logged_in(page, "Demo Supervisor", "zh")
    expect(waiting_row).to_have_attribute("data-over-service-level", "true")
    expect(message_row).to_have_attribute("data-over-service-level", "false")
    expect(header).to_have_text("1 位等待超过服务时限（2 分钟）")

    waiting_row.get_by_role("button", name="接入").click()  # the supervisor takes the late one
    taken = page.locator(f'#live-list [data-conversation-id="{waiting}"]')
    expect(taken.locator(".c-badge--over")).to_have_text("等待超过 2 分钟")
    expect(header).to_have_text("0 " + text("sla.over_count", "zh", level="2 分钟"))
    chromium.shot(page, "taken")

    dashboard = console(chromium)
    log_in(dashboard, DEMO_SUPERVISOR, language="en")
    logged_in(dashboard, "Demo Supervisor", "en")
    dashboard.goto(chromium.base_url + "/console/quality")
    expect(dashboard.get_by_role("heading", name="Service quality")).to_be_visible()
    over = dashboard.locator('[data-kpi="waits_over_service_level"]')
    expect(over.locator(".q-kpi-label")).to_have_text("Waits over the service level (2 min)")
    expect(over.locator(".q-kpi-value")).to_have_text("1")
    expect(dashboard.locator('[data-kpi="left_messages"] .q-kpi-label')).to_have_text("Messages left instead")
    expect(dashboard.locator('[data-kpi="left_messages"] .q-kpi-value')).to_have_text("1")
    expect(dashboard.locator('[data-kpi="callbacks_instead"] .q-kpi-label')).to_have_text("Callbacks instead")
    expect(dashboard.locator('[data-kpi="callbacks_instead"] .q-kpi-value')).to_have_text("0")
    over.scroll_into_view_if_needed()
    chromium.shot(dashboard, "dashboard")
