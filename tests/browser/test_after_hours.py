"""Asking for a person after agent hours (09:00–21:00 Beijing time), in the chat widget: the
clock of every process is frozen at 22:30 (``EVERGREEN_CLOCK``), so the assistant says when
agents are back and offers a callback or a complaint instead of queueing the customer. The
system here is this module's own (the other browser tests run inside agent hours). Each test
leaves screenshots in test-artifacts/screenshots/."""

from __future__ import annotations

import pytest

from bot import knowledge
from bot.core.staff import DEMO_AGENT
from tests.support.browser import CHROMIUM, running_system

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's Chromium is not installed at /usr/bin/chromium (apt-get install chromium); CI installs it",
)

from playwright.sync_api import expect  # noqa: E402

from tests.support.console_page import StaffSession, console, conversation_id, log_in, logged_in, queue_row  # noqa: E402
from tests.support.widget import ANSWER, answers, customer_bubbles, log, open_widget, say  # noqa: E402

AFTER_HOURS = "2026-11-30T22:30:00+08:00"  # a Monday evening; agents are back the next morning
BACK_AT = {"zh": "2026年12月1日（周二）09:00", "en": "Tue 1 Dec 2026, 09:00 Beijing time"}  # when agents are back


@pytest.fixture(scope="module")
def contact_url(tmp_path_factory):
    """This module's own system, its clock frozen after agent hours (overrides conftest's)."""
    with running_system(tmp_path_factory, "after-hours", EVERGREEN_CLOCK=AFTER_HOURS) as url:
        yield url


def ask_for_a_person_after_hours(page, request, lang):
    """Ask for a person; check what the customer sees (and does not see); return the answer."""
    answer = say(page, request)
    expect(answer).to_contain_text(knowledge.message("handoff_after_hours", lang, reopen=BACK_AT[lang]))
    buttons = answer.get_by_role("group").get_by_role("button")
    expect(buttons).to_have_text([knowledge.message("button_callback", lang), knowledge.message("button_complaint", lang)])
    # not queued: no place in the queue, no "connecting you" and no agent joining
    page.wait_for_timeout(1500)
    expect(page.locator(".egw-queue")).to_be_hidden()
    expect(log(page)).not_to_contain_text(knowledge.message("handoff_connecting", lang))
    expect(log(page).locator(".egw-msg--agent, .egw-msg--system")).to_have_count(0)
    return answer


def nobody_waits_for(contact_url, conversation):
    status, queue = StaffSession(contact_url, DEMO_AGENT).call("GET", "/console/api/queue")
    assert status == 200, queue
    assert conversation not in [h["conversation_id"] for h in queue["waiting"] + queue["mine"]]


def test_after_hours_a_request_for_a_person_offers_a_callback_or_a_complaint(chromium, contact_url):
    # An agent has the console open (working late): the queue stays empty.
    agent = console(chromium)
    log_in(agent, DEMO_AGENT)
    logged_in(agent, "Demo Agent")

    talk = chromium.page()
    talk.goto(chromium.base_url + "/")
    open_widget(talk)
    answer = ask_for_a_person_after_hours(talk, "转人工", "zh")
    expect(answer).to_contain_text("人工客服将于 2026年12月1日（周二）09:00 恢复服务")
    chromium.shot(talk, "customer")

    conversation = conversation_id(talk)
    expect(queue_row(agent, conversation)).to_have_count(0)
    expect(agent.locator("#queue-body")).to_contain_text("Nobody is waiting")
    expect(agent.locator("#queue-count")).to_have_text("0")
    expect(agent.locator("#banner")).to_be_hidden()
    nobody_waits_for(contact_url, conversation)
    chromium.shot(agent, "console")

    # The callback button starts the callback form: its first question (a visitor: the name).
    before = answers(talk).count()
    answer.get_by_role("button", name=knowledge.message("button_callback", "zh")).click()
    expect(customer_bubbles(talk).last).to_have_text(knowledge.message("button_callback", "zh"))
    expect(answers(talk)).not_to_have_count(before, timeout=ANSWER)
    expect(answers(talk).last).to_contain_text(knowledge.message("ask_name", "zh"))
    expect(log(talk)).not_to_contain_text("/request_callback")
    chromium.shot(talk, "callback")


def test_after_hours_in_english_for_a_verified_customer(chromium, contact_url):
    talk = chromium.page()
    talk.goto(chromium.base_url + "/?lang=en&as=demo-english")
    open_widget(talk, "en")
    answer = ask_for_a_person_after_hours(talk, "I'd like to talk to a person", "en")
    expect(answer).to_contain_text("back on Tue 1 Dec 2026, 09:00 Beijing time")
    nobody_waits_for(contact_url, conversation_id(talk))

    # A verified customer's name is known, so the callback form asks for the mobile number first.
    before = answers(talk).count()
    answer.get_by_role("button", name=knowledge.message("button_callback", "en")).click()
    expect(answers(talk)).not_to_have_count(before, timeout=ANSWER)
    expect(answers(talk).last).to_contain_text(knowledge.message("ask_mobile", "en"))
    chromium.shot(talk)
