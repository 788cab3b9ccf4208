"""The sender against the Bot API stand-in, in this process, on SQLite and PostgreSQL: messages
leave in order and once, 429 and 502 are waited out without reordering, a blocked user stops
sending, a message Telegram refuses for good is skipped, and what is left is found at start."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import pytest

from bot.core.leases import Leases
from bot.core.models import Conversation
from bot.core.store import ConversationStore
from bot.core.vault import Vault
from bot.service_hours import SHANGHAI
from channels.telegram.config import telegram_config
from channels.telegram.models import TelegramChat
from channels.telegram.outbound import TelegramSender, make_bot
from channels.telegram.store import TelegramStore
from tests.support.telegram_api import BotApi


TOKEN = "123456789:outbox-test-token"
CHAT = 777001
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=SHANGHAI)


class Service:
    """What the sender needs of the contact service: its way to run database work, its leases."""

    def __init__(self, sessions):
        self.leases = Leases(sessions, 15)

    async def db(self, function, *args, **kwargs):
        return await asyncio.to_thread(function, *args, **kwargs)


@pytest.fixture
def api():
    api = BotApi(TOKEN).start()
    yield api
    api.stop()


@pytest.fixture
def setup(sessions, api):
    with sessions() as session:
        session.add(Conversation(id=f"tg-{CHAT}", channel="telegram", owner="bot", language="zh"))
        session.flush()
        session.add(TelegramChat(conversation_id=f"tg-{CHAT}", chat_id=CHAT, user_id=CHAT, delivered_up_to=0, created_at=NOW))
        session.commit()
    config = telegram_config({"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": "s", "TELEGRAM_API_URL": api.base_url})
    store = TelegramStore(sessions)
    return ConversationStore(sessions, Vault("7ZCV3kq0mBo0z8Tyv2_2iB5h8mYZQW1GgbqZ6vGPrLk=")), store, lambda: TelegramSender(Service(sessions), store, make_bot(config))


async def send_all(sender: TelegramSender) -> None:
    sender.kick(f"tg-{CHAT}")
    await asyncio.wait_for(sender.idle(), 60)
    await sender.bot.shutdown()


async def test_in_order_once_through_429_and_502(setup, api):
    messages, store, make_sender = setup
    stored = [messages.store_outbound(f"tg-{CHAT}", f"第{i}条", "bot") for i in range(1, 5)]
    api.fail_next(1, 429)
    api.fail_next(2, 502)
    started = time.monotonic()
    await send_all(make_sender())
    assert api.texts_to(CHAT) == ["第1条", "第2条", "第3条", "第4条"]
    failed = [c.status for c in api.calls_to("sendMessage", ok_only=False) if not c.ok]
    assert failed == [429, 502, 502]
    assert time.monotonic() - started >= 1 + 1 + 2  # Telegram's retry_after, then backoff 1 s, 2 s
    assert store.chat(f"tg-{CHAT}").delivered_up_to == stored[-1].id
    await send_all(make_sender())  # nothing left: nothing sent again
    assert len(api.texts_to(CHAT)) == 4


async def test_disclosure_split_and_keyboard(setup, api):
    messages, store, make_sender = setup
    answer = messages.store_outbound(f"tg-{CHAT}", "起购金额 100 元。", "bot", [{"title": "联系人工客服", "payload": "/request_human"}],
                                     "理财非存款，产品有风险，投资须谨慎。")
    messages.store_outbound(f"tg-{CHAT}", "长" * 5000, "agent")
    await send_all(make_sender())
    first, second, third = api.calls_to("sendMessage", CHAT)
    assert first.params["text"] == "起购金额 100 元。\n\n理财非存款，产品有风险，投资须谨慎。"
    assert first.params["reply_markup"] == {"inline_keyboard": [[{"text": "联系人工客服", "callback_data": f"b{answer.id}.0"}]]}
    assert (len(second.params["text"]), len(third.params["text"])) == (4096, 904)


async def test_a_blocked_user_stops_the_sending_until_they_write_again(setup, api):
    messages, store, make_sender = setup
    messages.store_outbound(f"tg-{CHAT}", "one", "bot")
    messages.store_outbound(f"tg-{CHAT}", "two", "bot")
    api.fail_next(1, 403)
    await send_all(make_sender())
    assert api.texts_to(CHAT) == [] and store.chat(f"tg-{CHAT}").blocked_at is not None
    messages.store_outbound(f"tg-{CHAT}", "three", "agent")
    await send_all(make_sender())
    assert api.texts_to(CHAT) == [] and store.chats_with_unsent() == []
    # They write again: what was said meanwhile is not sent all at once, new replies are.
    store.open_chat(f"tg-{CHAT}", CHAT, CHAT, "zh", NOW, lambda lang: "notice")
    messages.store_outbound(f"tg-{CHAT}", "four", "bot")
    assert store.chats_with_unsent() == [f"tg-{CHAT}"]
    await send_all(make_sender())
    assert api.texts_to(CHAT) == ["four"]


async def test_a_refused_message_is_skipped_and_the_sweep_finds_what_is_left(setup, api):
    messages, store, make_sender = setup
    messages.store_outbound(f"tg-{CHAT}", "refused", "bot")
    messages.store_outbound(f"tg-{CHAT}", "next", "bot")
    api.fail_next(1, 400)
    sender = make_sender()
    await sender.sweep()  # as at start: finds the chat with unsent messages
    await asyncio.wait_for(sender.idle(), 30)
    await sender.bot.shutdown()
    assert api.texts_to(CHAT) == ["next"]
