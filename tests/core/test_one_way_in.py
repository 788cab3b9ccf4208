"""Every customer message of every channel enters through the one core function,
``ConversationStore.add_inbound`` (called by ``Conversations.accept_inbound`` for the web and
Telegram, inside the ticket's transaction for email), which masks secrets and personal numbers and
seals mobile numbers. Read from the code, and shown with real traffic on all three channels of one
running system."""

from __future__ import annotations

import ast
import time
from pathlib import Path
from typing import List, Tuple

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from bot.core.models import Message
from bot.core.vault import PersonalNumber
from bot.launcher import Assistant
from tests.support.clients import Client
from tests.support.imap_server import DovecotServer
from tests.support.mail import email_env, new_mail
from tests.support.ports import free_port
from tests.support.smtp_server import SmtpServer
from tests.support.system import MODEL, service_env
from tests.support.telegram import TOKEN, TelegramUser, telegram_settings
from tests.support.telegram_api import BotApi

ROOT = Path(__file__).resolve().parents[2]
SECRET_WORDS = "我的手机13812345678，卡号6222021234567890123，密码是abc12345"
CLEAR = ("13812345678", "6222021234567890123", "abc12345")


def calls_in(package: str) -> List[Tuple[str, int, str]]:
    """(file, line, what) of every ``Message(... direction="in" ...)`` built and every use of
    ``add_inbound`` or ``store_inbound`` in the package's code."""
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and node.attr in ("add_inbound", "store_inbound"):  # called or passed on
                found.append((str(path.relative_to(ROOT)), node.lineno, node.attr))
            elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Message" and any(
                    k.arg == "direction" and isinstance(k.value, ast.Constant) and k.value.value == "in" for k in node.keywords):
                found.append((str(path.relative_to(ROOT)), node.lineno, "Message"))
    return found


def test_only_the_core_makes_a_customer_message():
    found = calls_in("bot") + calls_in("channels")
    made = {(file, what) for file, _, what in found}
    assert made == {
        ("bot/core/store.py", "Message"),  # add_inbound builds it
        ("bot/core/store.py", "add_inbound"),  # store_inbound calls it
        ("bot/core/conversations.py", "store_inbound"),  # accept_inbound: web, Telegram
        ("channels/email/tickets.py", "add_inbound"),  # inside the ticket's transaction
    }, found


@pytest.fixture(scope="module")
def everything(tmp_path_factory):
    """One system with all three channels on (the web is always on)."""
    api, dovecot = BotApi(TOKEN).start(), DovecotServer().start()
    smtp = SmtpServer(tmp_path_factory.mktemp("smtp")).start()
    database_url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'contact.db'}"
    env = {**service_env(database_url), **telegram_settings(api), **email_env(dovecot, smtp)}
    try:
        with Assistant(MODEL, free_port(), free_port(), tmp_path_factory.mktemp("logs"), contact_port=free_port(),
                       service_env=env) as system:
            yield system, api, dovecot, database_url
    finally:
        smtp.stop()
        dovecot.cleanup()
        api.stop()


def customer_messages(database_url: str, prefix: str) -> List[Tuple[Message, List[PersonalNumber]]]:
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            messages = session.execute(select(Message).where(Message.direction == "in", Message.conversation_id.like(prefix + "%"))).scalars().all()
            return [(m, session.execute(select(PersonalNumber).where(PersonalNumber.message_id == m.id)).scalars().all()) for m in messages]
    finally:
        engine.dispose()


def wait_for_messages(database_url: str, prefix: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while not (found := customer_messages(database_url, prefix)):
        assert time.monotonic() < deadline, f"no customer message in {prefix}* conversations"
        time.sleep(0.3)
    return found


@pytest.mark.parametrize("channel", ["web", "telegram", "email"])
def test_every_channel_stores_the_customer_message_masked_and_sealed(everything, channel):
    system, api, dovecot, database_url = everything
    if channel == "web":
        client = Client(system.contact_url)
        conversation_id = client.start()["conversation_id"]
        client.say(SECRET_WORDS)
        prefix = conversation_id
    elif channel == "telegram":
        TelegramUser(system, api, 5550777).send(SECRET_WORDS)
        prefix = "tg-5550777"
    else:
        dovecot.append(new_mail("wang.fang@example.org", "账户问题", SECRET_WORDS))
        prefix = "em-"
    [(message, sealed)] = wait_for_messages(database_url, prefix)
    assert not any(clear in message.text for clear in CLEAR), message.text
    assert "138****5678" in message.text
    assert len(sealed) == 1  # the mobile number, sealed beside the message
