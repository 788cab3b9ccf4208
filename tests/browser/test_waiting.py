"""Waiting for an agent in the chat widget, honestly (docs/architecture.md, "Honest waiting"): with
no agent online the customer gets no estimate but three choices, and after the configured wait a
callback offer they can take; a customer queued just before 21:00 becomes a callback request at
closing time and is told so. The clock of every process is a file this module moves or lets run
(``EVERGREEN_CLOCK_FILE``); the system is this module's own. Screenshots in
test-artifacts/screenshots/."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.support.browser import CHROMIUM, running_system
from tests.support.clock import Clock
from tests.support.system import IN_HOURS

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's Chromium is not installed at /usr/bin/chromium (apt-get install chromium); CI installs it",
)

from playwright.sync_api import expect  # noqa: E402

from tests.support.widget import ANSWER, answers, log, open_widget, say  # noqa: E402

OFFER_AFTER = 300  # seconds without an agent before the callback offer (CONTACT_CALLBACK_OFFER_AFTER)


@pytest.fixture(scope="module")
def moving_clock(tmp_path_factory):
    return Clock(tmp_path_factory.mktemp("clock") / "clock.json", IN_HOURS)


@pytest.fixture(scope="module")
def contact_url(tmp_path_factory, moving_clock):
    """This module's own system, on the module's clock (overrides conftest's)."""
    with running_system(tmp_path_factory, "waiting", **moving_clock.env, CONTACT_WAITING_INTERVAL="0.5",
                        CONTACT_CALLBACK_OFFER_AFTER=str(OFFER_AFTER)) as url:
        yield url


def chat(chromium):
    page = chromium.page()
    page.goto(chromium.base_url + "/")
    open_widget(page)
    return page


def test_a_customer_waiting_with_no_agent_online_gets_no_estimate_and_is_offered_a_callback(chromium, moving_clock):
    page = chat(chromium)
    say(page, "我要转人工")
    told = answers(page).filter(has_text="目前没有人工客服在线")
    expect(told).to_be_visible(timeout=ANSWER)
    expect(told).not_to_contain_text("分钟")
    expect(told.get_by_role("group").get_by_role("button")).to_have_text(["继续等待", "预约回电", "给客服留言"])
    banner = page.get_by_role("status").filter(has_text="排队")
    expect(banner).to_contain_text("您排第 1 位，目前没有客服在线")
    chromium.shot(page, "nobody-online")

    moving_clock.forward(OFFER_AFTER + 1)
    offer = answers(page).filter(has_text="抱歉，您已等待 5 分钟还没有客服接入")
    expect(offer).to_be_visible(timeout=ANSWER)
    chromium.shot(page, "offer")
    offer.get_by_role("button", name="预约回电").click()
    expect(log(page)).to_contain_text("请问怎么称呼您", timeout=ANSWER)  # the assistant's callback booking
    expect(page.locator(".egw-queue")).to_be_hidden()  # no longer in the queue
    chromium.shot(page)


def test_a_customer_queued_before_closing_becomes_a_callback_at_21_00_and_is_told(chromium, moving_clock):
    day = moving_clock.now().date()
    moving_clock.run_from(datetime.fromisoformat(f"{day}T20:59:30+08:00"))
    page = chat(chromium)
    say(page, "赎回多久到账？我手机 13812345678")
    say(page, "我要转人工")
    expect(log(page)).to_contain_text("正在为您转接人工客服", timeout=ANSWER)
    assert moving_clock.now().hour == 20, "queued before 21:00"
    told = answers(page).filter(has_text="人工客服已于 21:00 下班")
    expect(told).to_be_visible(timeout=90_000)
    expect(told).to_contain_text("我们已为您预约回电")
    expect(told).to_contain_text("138****5678")
    expect(told).to_contain_text("09:00–09:30")
    expect(page.locator(".egw-queue")).to_be_hidden()
    chromium.shot(page)
