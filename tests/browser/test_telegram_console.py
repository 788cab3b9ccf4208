"""The agent console's side of a Telegram handoff (issue #6): an agent in Debian's Chromium on
/console/, a Telegram user whose updates are the Bot API's own JSON posted to the webhook, and
the capture server of tests/support/telegram_api.py standing in for the Bot API, recording what the service
sends to the chat. The system is this module's own (the contact service with the Telegram
channel, Rasa and the action server, SQLite), its clock frozen inside agent hours. Each test
leaves screenshots in test-artifacts/screenshots/."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from bot import knowledge
from bot.core.models import Message
from bot.core.staff import DEMO_AGENT
from tests.support.browser import CHROMIUM, running_system

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's Chromium is not installed at /usr/bin/chromium (apt-get install chromium); CI installs it",
)

from playwright.sync_api import expect  # noqa: E402

from tests.support.console_page import console, console_messages, log_in, logged_in, queue_row  # noqa: E402
from tests.support.telegram import TelegramUser, telegram_settings  # noqa: E402
from tests.support.widget import ANSWER  # noqa: E402

QUIET = 2.0  # s: how long Telegram must hear nothing for a message the assistant has to leave alone


@pytest.fixture(scope="module")
def database_url(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('telegram-console-db') / 'contact.db'}"


@pytest.fixture(scope="module")
def contact_url(tmp_path_factory, database_url, bot_api):
    """This module's own system, with the Telegram channel on (overrides conftest's)."""
    with running_system(tmp_path_factory, "telegram-console", DATABASE_URL=database_url, **telegram_settings(bot_api)) as url:
        yield url


def status_of(database_url, update) -> str:
    """The stored status of the customer's message an update became."""
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            [message] = session.execute(select(Message).where(
                Message.client_message_id == f"tg-{update['update_id']}")).scalars()
            return message.status
    finally:
        engine.dispose()


def sent_exactly(user: TelegramUser, text: str):
    """The sendMessage call to the user's chat whose text is exactly ``text`` (waits for it)."""
    return user.api.wait_for(lambda: next((c for c in user.calls() if c.params["text"] == text), None),
                             ANSWER / 1000, f"{text!r} to {user.id}")


def assistant_keeps_quiet(user: TelegramUser, database_url, update) -> None:
    """A message for the agent: never given to the assistant, so Telegram gets no answer and no
    "typing…" for it."""
    assert status_of(database_url, update) == "for_agent"
    before = (len(user.calls()), len(user.api.calls_to("sendChatAction", user.id)))
    deadline = time.monotonic() + QUIET
    while time.monotonic() < deadline:
        now = (len(user.calls()), len(user.api.calls_to("sendChatAction", user.id)))
        assert now == before, f"Telegram was sent something for a message meant for the agent: {user.texts()[before[0]:]}"
        time.sleep(0.1)


def test_a_telegram_customer_is_served_by_an_agent_in_the_console_and_rates_the_service(chromium, bot_api, database_url):
    started = time.monotonic()
    agent = console(chromium)
    log_in(agent, DEMO_AGENT)
    logged_in(agent, "Demo Agent")

    # A Telegram user (private chat, Chinese) asks for a person: queued, and the agent is told at once
    user = TelegramUser(chromium.base_url, bot_api, 630000001)
    conversation = user.conversation_id
    user.send("转人工")
    user.wait_for("正在为您转接人工客服", ANSWER / 1000)
    user.wait_for("客服马上就会为您接入", ANSWER / 1000)  # an agent has the console open, with free slots
    row = queue_row(agent, conversation)
    expect(row).to_be_visible(timeout=ANSWER)
    expect(row).to_contain_text("Asked for an agent")
    expect(row).to_contain_text("Chinese")  # the English console names languages in English
    expect(row).to_contain_text("转人工")  # the summary
    expect(row).to_contain_text("#1")
    banner = agent.locator("#banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("New: Asked for an agent")
    assert any("waiting for an agent" in n["title"] for n in agent.evaluate("window.__notifications"))
    expect(row).to_contain_text("Telegram")  # where the customer is writing from
    chromium.shot(agent, "queue")

    # The agent claims it: the Telegram user is told who joined
    row.get_by_role("button", name="Claim").click()
    user.wait_for(knowledge.message("agent_joined", "zh", name="Demo Agent"), ANSWER / 1000)
    expect(agent.locator("#conv-title")).to_contain_text("Visitor")
    expect(agent.locator("#profile")).to_contain_text("Anonymous visitor")
    expect(console_messages(agent, "customer").first).to_contain_text("转人工")
    live_item = agent.locator(f'#live-list [data-conversation-id="{conversation}"]')
    expect(live_item).to_have_attribute("aria-current", "true")
    reply = agent.get_by_label("Reply to the customer")
    expect(reply).to_be_focused()

    # The agent's reply reaches the chat as it was typed, as plain text
    answer = "您好，我是 Demo Agent，请问赎回单号是多少？"
    reply.fill(answer)
    reply.press("Enter")
    expect(reply).to_have_value("")
    sent = sent_exactly(user, answer)
    assert sent.params["chat_id"] == user.id and "parse_mode" not in sent.params and not sent.params.get("reply_markup")
    expect(console_messages(agent, "agent").last.locator(".c-msg-text")).to_have_text(answer)

    # The user writes: it reaches the console, and the assistant keeps quiet
    update = user.send("单号 R20261130001，三天了还没到账")
    expect(console_messages(agent, "customer").last.locator(".c-msg-text")).to_have_text("单号 R20261130001，三天了还没到账", timeout=ANSWER)
    assistant_keeps_quiet(user, database_url, update)

    # Markup is text on both sides: Telegram gets the agent's verbatim (no parse mode), the console
    # shows the customer's as typed
    trap = "<img src=x onerror=window.__xss=1>"
    reply.fill(trap)
    reply.press("Enter")
    sent = sent_exactly(user, trap)
    assert "parse_mode" not in sent.params and "entities" not in sent.params
    expect(console_messages(agent, "agent").last.locator(".c-msg-text")).to_have_text(trap)
    update = user.send("<b>hi</b>")
    expect(console_messages(agent, "customer").last.locator(".c-msg-text")).to_have_text("<b>hi</b>", timeout=ANSWER)
    assistant_keeps_quiet(user, database_url, update)
    assert agent.locator("#messages img, #messages b").count() == 0
    assert agent.evaluate("typeof window.__xss") == "undefined"
    chromium.shot(agent, "conversation")
    before_resolve = len(user.calls())

    # The agent resolves (confirmed): Telegram is told, then asked for a rating with an inline keyboard
    agent.get_by_role("button", name="Resolve…").click()
    dialog = agent.get_by_role("dialog", name="Resolve this conversation?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Resolve conversation").click()
    expect(dialog).to_be_hidden()
    expect(agent.get_by_role("heading", name="Waiting for an agent")).to_be_visible()
    expect(live_item).to_have_count(0)  # gone from the agent's list
    expect(queue_row(agent, conversation)).to_have_count(0)
    left = user.wait_for(knowledge.message("agent_left", "zh"), ANSWER / 1000)
    survey = user.wait_for(knowledge.message("survey_ask_agent", "zh"), ANSWER / 1000)
    calls = user.calls()
    assert before_resolve <= calls.index(left) < calls.index(survey), [c.params["text"][:30] for c in calls[before_resolve:]]
    keyboard = survey.params["reply_markup"]["inline_keyboard"]
    assert [b["text"] for row in keyboard for b in row] == ["1", "2", "3", "4", "5"]

    # The user taps 5: the tap is answered, and the thanks name the rating
    tap = user.tap(survey, "5")
    bot_api.wait_for(lambda: any(c.params.get("callback_query_id") == tap["callback_query"]["id"]
                                 for c in bot_api.calls_to("answerCallbackQuery")), ANSWER / 1000, "answerCallbackQuery")
    thanks = user.wait_for(knowledge.message("survey_rated", "zh", rating=5), ANSWER / 1000)
    assert "5" in thanks.params["text"]
    expect(live_item).to_have_count(0)
    expect(agent.locator("#live-list")).to_contain_text("None yet")
    chromium.shot(agent, "after")
    texts = user.texts()
    assert len(texts) == len(set(texts)), texts  # nothing sent twice
    print(f"telegram handoff round trip in the console: {time.monotonic() - started:.1f} s")



def test_the_console_shows_that_a_conversation_came_from_telegram(chromium, bot_api):
    agent = console(chromium)
    log_in(agent, DEMO_AGENT)
    logged_in(agent, "Demo Agent")
    user = TelegramUser(chromium.base_url, bot_api, 630000002)
    user.send("转人工")
    row = queue_row(agent, user.conversation_id)
    expect(row).to_be_visible(timeout=ANSWER)
    in_queue = row.inner_text()
    row.get_by_role("button", name="Claim").click()
    badges = agent.locator("#conv-badges")
    expect(badges).to_contain_text("With you")
    chromium.shot(agent, "badges")
    assert "Telegram" in badges.inner_text() and "Website chat" not in badges.inner_text(), badges.inner_text()
    assert "Telegram" in in_queue, in_queue
