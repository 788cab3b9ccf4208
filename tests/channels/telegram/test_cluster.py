"""Two contact services on one PostgreSQL database (issue #18) send a Telegram chat's messages
once each and in order: updates reach both at the same moment, both wake their sender for the
chat, and only the holder of the chat's lease sends. The Bot API is the capture server; the
assistant is away (every customer message gets the stored apology), which is all it takes to
have messages to send."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from bot.core.models import Message
from channels.telegram.models import TelegramChat
from tests.support.cluster import ContactService
from tests.support.ports import free_port
from tests.support.telegram import TelegramUser, telegram_env

USER = 555001


@pytest.fixture(scope="module")
def database_url(postgres_database_url):
    """Several processes share a server database: PostgreSQL only."""
    return postgres_database_url


@pytest.fixture(scope="module")
def services(database_url, bot_api, tmp_path_factory):
    logs = tmp_path_factory.mktemp("contact")
    env = {**telegram_env(database_url, bot_api), "RASA_URL": f"http://127.0.0.1:{free_port()}", "CONTACT_LEASE_SECONDS": "3"}
    with ContactService(env, logs / "a.log") as first, ContactService(env, logs / "b.log") as second:
        yield first, second


def outbound_texts(database_url: str, conversation_id: str):
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            messages = session.execute(select(Message).where(Message.conversation_id == conversation_id, Message.direction == "out")
                                       .order_by(Message.id)).scalars().all()
            cursor = session.get(TelegramChat, conversation_id).delivered_up_to
            return [m.text for m in messages], cursor == messages[-1].id
    finally:
        engine.dispose()


def store_outbound(database_url: str, conversation_id: str, texts) -> None:
    """Messages waiting to be sent, as an agent's or the assistant's would be."""
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            session.add_all(Message(conversation_id=conversation_id, direction="out", sender="agent", text=text, status="sent")
                            for text in texts)
            session.commit()
    finally:
        engine.dispose()


def test_a_chats_messages_are_sent_once_each_and_in_order_by_two_processes(services, bot_api, database_url):
    first, second = services
    on_first, on_second = TelegramUser(first.url, bot_api, USER), TelegramUser(second.url, bot_api, USER)
    on_first.send("你好")
    on_first.wait_for("您的消息已经保存")  # the apology: the assistant is away
    store_outbound(database_url, on_first.conversation_id, [f"第{n}条" for n in range(1, 61)])

    # Both processes get an update at once and both wake their sender for the chat.
    updates = [threading.Thread(target=user.send, args=(text,)) for user, text in ((on_first, "在吗"), (on_second, "还在吗"))]
    for update in updates:
        update.start()
    for update in updates:
        update.join()

    bot_api.wait_for(lambda: outbound_texts(database_url, on_first.conversation_id)[1], 60, "every message sent")
    sent = on_first.quiet()
    expected, _ = outbound_texts(database_url, on_first.conversation_id)
    assert len(expected) == 1 + 1 + 60 + 2  # the privacy notice, the apologies and the waiting messages
    assert sent == expected
