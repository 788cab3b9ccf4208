"""A channel added by its package and one registry line passes a message end to end: stored
masked with its mobile number sealed, answered by the real assistant, the replies delivered to the
channel by the core, and the channel's kind known to the console's filters without a change there."""

from __future__ import annotations

import json
import urllib.request

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from bot.core.models import Message
from bot.core.vault import PersonalNumber
from bot.launcher import Assistant
from tests.support.ports import free_port
from tests.support.system import MODEL, service_env

QUESTION = "我的手机13812345678，长青货币宝起购金额是多少？"


@pytest.fixture(scope="module")
def echo_system(tmp_path_factory):
    database_url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'contact.db'}"
    with Assistant(MODEL, free_port(), free_port(), tmp_path_factory.mktemp("logs"), contact_port=free_port(),
                   service_env=service_env(database_url), contact_module="tests.channels.echo.serve") as assistant:
        yield assistant, database_url


def call(base_url: str, path: str, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base_url + path, data=data, method="POST" if body is not None else "GET",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def test_a_message_through_the_echo_channel(echo_system):
    system, database_url = echo_system
    answer = call(system.contact_url, "/channels/echo/li", {"id": "m-1", "text": QUESTION})
    assert "13812345678" not in answer["stored"] and "138" in answer["stored"]  # masked by the core
    replies = "\n".join(answer["replies"])
    assert "100" in replies and "理财非存款" in replies  # the assistant's answer, with the disclosure
    assert call(system.contact_url, "/channels/echo/li")["delivered"] == answer["replies"]  # through Channel.deliver
    again = call(system.contact_url, "/channels/echo/li", {"id": "m-1", "text": QUESTION})
    assert again["replies"] == []  # a resend is stored once and not answered again
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            stored = session.execute(select(Message).where(Message.conversation_id == "echo-li", Message.direction == "in")).scalars().all()
            assert [m.text for m in stored] == [answer["stored"]]
            assert session.execute(select(PersonalNumber).where(PersonalNumber.message_id == stored[0].id)).scalars().all()
    finally:
        engine.dispose()
