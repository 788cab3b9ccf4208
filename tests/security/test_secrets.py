"""Secrets never stored (issue #15, item 5), end to end: a customer types a password, an SMS code,
a CVV and a card number that passes Luhn into the widget's API, Telegram and email, at the real
processes (Rasa, the action server, the contact service with every channel switched on; SQLite
and PostgreSQL). Afterwards no row of any table, no log file of the processes, no mail we sent
and no agent's view of the conversations holds any of them."""

from __future__ import annotations

import json
import re
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any, Dict, List

import pytest
from sqlalchemy import create_engine, inspect, select, text

from bot.core.staff import DEMO_AGENT
from channels.email.tickets import conversation_id_for
from tests.support.clients import REFERENCE, buttons, Client, Console, texts
from tests.support.mail import SERVICE, email_env, processed
from tests.support.system import IN_HOURS, running_assistant
from tests.support.telegram import post_update, telegram_settings, TelegramUser
from tests.support.waiting import wait_for


PASSWORD = "Zq83kd71"
CODE = "384920"
CVV = "7319"  # four digits (as on Amex cards): a log's milliseconds are three
CARD = "6217001234567893"  # passes Luhn
SECRETS = {"password": PASSWORD, "code": CODE, "cvv": CVV, "card": CARD, "card's middle": CARD[4:12]}
CUSTOMER_SAYS = [
    f"我的密码是{PASSWORD}帮我登录",
    f"我收到了验证码 {CODE}，要告诉你吗",
    f"my CVV is {CVV}",
    f"我的卡号是 {CARD}",
]
SENDER = "wang.fang@customer.example"


@pytest.fixture(scope="module")
def system(database_url, bot_api, dovecot, smtp, tmp_path_factory):
    """Widget API, Telegram and email at once: one start of the processes per database."""
    with running_assistant(database_url, tmp_path_factory.mktemp("logs"), clock=IN_HOURS, **telegram_settings(bot_api),
                           **email_env(dovecot, smtp)) as assistant:
        yield assistant


def _unescaped(value: str) -> str:
    """JSON's \\uXXXX escapes (Rasa's tracker) back to characters, so "是" cannot hide a neighbour."""
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), value)


def readable(value: Any) -> str:
    """A column's value as text to search; a stored mail also with its decoded subject and parts
    (a subject is sent MIME-encoded, where a secret would not show literally)."""
    if not isinstance(value, (bytes, memoryview)):
        return _unescaped(repr(value))
    data = bytes(value)
    found = data.decode("utf-8", "replace")
    if b"Message-ID:" in data or b"Subject:" in data:
        mail = message_from_bytes(data, policy=policy.default)
        found += "\n" + str(mail["Subject"])
        found += "".join(part.get_content() for part in mail.walk() if part.get_content_maintype() == "text")
    return found


def leaks(where: str, found: str) -> List[str]:
    """Which secrets ``found`` holds (a secret as a whole number or word, not inside a longer one)."""
    return [f"{name} in {where}" for name, secret in SECRETS.items()
            if re.search(rf"(?<![0-9A-Za-z]){secret}(?![0-9A-Za-z])", found)]


def every_row(database_url: str) -> Dict[str, str]:
    """Every table's rows, as searchable text."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return {table: "\n".join(readable(value) for row in connection.execute(select(text("*")).select_from(text(table)))
                                     for value in row)
                    for table in inspect(engine).get_table_names()}
    finally:
        engine.dispose()


def open_handoff(agent: Console, conversation_id: str) -> Dict[str, Any]:
    return wait_for(lambda: next((h for h in agent.waiting() if h["conversation_id"] == conversation_id), None),
                    message=f"{conversation_id} in the queue")


def agent_view(agent: Console, conversation_id: str, claim: bool = True) -> str:
    """The console's view of the conversation after the agent took it, wrote a note and replied,
    each with a secret in it (staff can slip too)."""
    if claim:
        handoff = open_handoff(agent, conversation_id)
        status, answer = agent.call("POST", f"/console/api/handoffs/{handoff['id']}/claim")
        assert status == 200, answer
        status, answer = agent.call("POST", f"/console/api/conversations/{conversation_id}/messages",
                                    {"text": f"请勿透露验证码：{CODE}"})
        assert status == 200, answer
    status, answer = agent.call("POST", f"/console/api/conversations/{conversation_id}/notes",
                                {"text": f"customer gave password: {PASSWORD}, card {CARD}"})
    assert status == 200, answer
    status, view = agent.call("GET", f"/console/api/conversations/{conversation_id}")
    assert status == 200, view
    return json.dumps(view, ensure_ascii=False)


def mail_with_secrets() -> bytes:
    mail = EmailMessage()
    mail["From"] = f"王芳 <{SENDER}>"
    mail["To"] = SERVICE
    mail["Subject"] = f"验证码 {CODE} 是不是被盗了"
    mail["Message-ID"] = make_msgid(domain="customer.example")
    mail.set_content(f"你好，我的交易密码是{PASSWORD}，安全码 {CVV}，卡号 {CARD}，请帮我看看账户。")
    mail.add_attachment(b"statement", maintype="text", subtype="plain", filename=f"card {CARD}.txt")
    return bytes(mail)


def test_no_secret_a_customer_typed_is_stored_logged_mailed_or_shown(system, bot_api, dovecot, smtp, database_url):
    agent = Console(system.contact_url).log_in(DEMO_AGENT)
    views = {}

    # The widget's API: a complaint whose description and outcome carry secrets, then the four
    # messages, then a person.
    web = Client(system.contact_url)
    web_id = web.start()["conversation_id"]
    web.say("我要投诉")
    answer = web.say(f"上周赎回稳盈债券被多扣了0.5%的赎回费，我的登录密码是{PASSWORD}")
    web.tap(answer, buttons(answer)[0])
    web.say(f"退还赎回费，卡号 {CARD}")
    web.say("我的手机 13812345678")
    assert REFERENCE.search(texts(web.say("确认提交")))
    for said in CUSTOMER_SAYS:
        stored = web.say(said)["message"]["text"]
        assert not leaks("the stored message", stored), stored
    web.say("我要转人工")
    views["web"] = agent_view(agent, web_id)

    # Telegram: the same messages, and an update the webhook refuses (its excerpt is logged).
    user = TelegramUser(system, bot_api, 990015)
    for said in CUSTOMER_SAYS:
        user.send(said)
    user.send("我要转人工")
    user.quiet()
    status, _ = post_update(system.contact_url, raw=f'{{"message": "密码：{PASSWORD} CVV {CVV}"'.encode())
    assert status == 200
    views["telegram"] = agent_view(agent, user.conversation_id)

    # Email: secrets in the subject, the text and an attachment's name; the acknowledgement
    # quotes the subject.
    raw = mail_with_secrets()
    message_id = message_from_bytes(raw)["Message-ID"].strip()
    dovecot.append(raw)
    wait_for(lambda: processed(database_url, message_id), message="the mail processed")
    acknowledgement = wait_for(lambda: [m for m in smtp.messages() if SENDER in str(m["To"])], message="the acknowledgement")
    views["email"] = agent_view(agent, conversation_id_for(message_id), claim=False)

    found = []
    for table, rows in every_row(database_url).items():
        found += leaks(f"table {table}", rows)
    for log in sorted(system.log_dir.glob("*.log")):
        found += leaks(f"log {log.name}", log.read_text(errors="replace"))
    for channel, view in views.items():
        found += leaks(f"the agent's view of the {channel} conversation", view)
    found += leaks("the acknowledgement", "".join(readable(bytes(m)) for m in acknowledgement))
    found += leaks("what Telegram was sent", "\n".join(user.texts()))
    assert not found, "; ".join(found)
    assert "我的密码是******帮我登录" in views["web"] and "验证码 ******" in views["telegram"]
    assert "6217 **** **** 7893" in views["email"]
