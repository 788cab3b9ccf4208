"""Two contact services on one PostgreSQL database, as behind a load balancer (issue #18): the
messages kept while the assistant was down are answered once each, in order, when it comes back,
though both retry loops run; live answers and the retry loops never answer a message twice; each
missed complaint deadline is escalated once. Real processes: two ``python -m bot.server``, Rasa
and the action server started once the messages are stored."""

from __future__ import annotations

import re
import secrets
import time
import urllib.request
from datetime import timedelta
from typing import Dict, List, Tuple

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import sessionmaker

from bot.complaints.desk import ComplaintDesk, ComplaintDraft
from bot.complaints.models import ComplaintEvent
from bot.core.db import session_factory
from bot.core.models import Message, utcnow
from bot.launcher import Assistant
from tests.support.clients import Client
from tests.support.cluster import ContactService
from tests.support.ports import free_port
from tests.support.system import MODEL, service_env
from tests.support.waiting import wait_for

QUESTIONS = ["长青货币宝起购金额是多少", "稳盈债券的风险等级是多少", "长青货币宝可以随时赎回吗"]
ANSWERS_COUNTED = re.compile(r'^evergreen_assistant_reply_seconds_count\{channel="web"\} (\S+)$', re.M)


@pytest.fixture(scope="module")
def database_url(postgres_database_url):
    """Several processes share a server database: PostgreSQL only."""
    return postgres_database_url


@pytest.fixture(scope="module")
def assistant(database_url, tmp_path_factory):
    """Rasa and the action server, not started: the first test starts them once messages wait."""
    env = {**service_env(database_url), "RASA_API_TOKEN": "cluster-test-rasa-token"}
    assistant = Assistant(MODEL, free_port(), free_port(), tmp_path_factory.mktemp("assistant"), service_env=env)
    yield assistant
    assistant.stop()


@pytest.fixture(scope="module")
def services(assistant, tmp_path_factory) -> Tuple[ContactService, ContactService]:
    """Two contact services; the first migrates the database before the second starts."""
    logs = tmp_path_factory.mktemp("contact")
    env = {**assistant.service_env, "RASA_URL": assistant.rasa_url, "ACTIONS_URL": assistant.actions_url,
           "CONTACT_OVERDUE_INTERVAL": "1", "CONTACT_LEASE_SECONDS": "3"}
    with ContactService(env, logs / "a.log") as first, ContactService(env, logs / "b.log") as second:
        yield first, second


@pytest.fixture(scope="module")
def sessions(database_url):
    engine = create_engine(database_url)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def running(assistant):
    if not assistant.processes:
        assistant.start()
    return assistant


def answers_counted(services) -> float:
    """The assistant's answers stored, as both processes count them (``/metrics``)."""
    total = 0.0
    for service in services:
        with urllib.request.urlopen(service.url + "/metrics", timeout=10) as response:
            total += sum(float(n) for n in ANSWERS_COUNTED.findall(response.read().decode()))
    return total


def customers(services, count: int) -> List[Tuple[Client, Client]]:
    """``count`` customers, each with one session used on both processes: (first, second)."""
    pairs = []
    for _ in range(count):
        customer = Client(services[0].url)
        customer.start()
        twin = Client(services[1].url)
        twin.session_token = customer.session_token
        pairs.append((customer, twin))
    return pairs


def kept(sessions: sessionmaker, message_ids: List[int]) -> List[Message]:
    with sessions() as session:
        return list(session.execute(select(Message).where(Message.id.in_(message_ids)).order_by(Message.id)).scalars())


def answered_in_order(sessions: sessionmaker, message_ids: List[int]) -> List[int]:
    """The messages the assistant's replies answer, in the order the replies were stored."""
    with sessions() as session:
        return list(session.execute(select(Message.reply_to).where(Message.reply_to.in_(message_ids), Message.sender == "bot")
                                    .order_by(Message.id)).scalars())




def test_messages_kept_while_the_assistant_was_down_are_answered_once_and_in_order(services, assistant, sessions):
    pairs = customers(services, 4)
    ids: List[int] = []
    for turn, question in enumerate(QUESTIONS):
        for n, pair in enumerate(pairs):
            said = pair[(n + turn) % 2].say(question)  # each customer's messages reach both processes
            assert [r["sender"] for r in said["replies"]] == ["system"]  # the apology: the assistant is down
            ids.append(said["message"]["id"])
    time.sleep(2)  # both retry loops find the assistant down
    before = answers_counted(services)

    assistant.start()
    wait_for(lambda: all(m.status == "answered" for m in kept(sessions, ids)), 120, "every kept message answered")
    time.sleep(3)  # a second answer to any of them would be stored by now
    assert answers_counted(services) - before == len(ids)
    answered = answered_in_order(sessions, ids)
    assert set(answered) == set(ids)
    by_conversation: Dict[str, List[int]] = {}
    for message in kept(sessions, ids):
        by_conversation.setdefault(message.conversation_id, []).append(message.id)
    for conversation, messages in by_conversation.items():
        order = [answer for answer in answered if answer in messages]
        assert order == sorted(order), conversation


def test_live_answers_beside_both_retry_loops_answer_each_message_once(services, running, sessions):
    pairs = customers(services, 2)
    before = answers_counted(services)
    ids = []
    for turn in range(4):
        for pair in pairs:
            said = pair[turn % 2].say(QUESTIONS[turn % len(QUESTIONS)])
            assert said["replies"] and {r["sender"] for r in said["replies"]} == {"bot"}  # answered live, at once
            ids.append(said["message"]["id"])
    time.sleep(3)  # the retry loops (every second) would have answered again by now
    assert answers_counted(services) - before == len(ids)
    assert all(m.status == "answered" for m in kept(sessions, ids))


def test_each_missed_complaint_deadline_is_escalated_once(services, sessions):
    desk = ComplaintDesk(sessions)
    filed = [desk.file(ComplaintDraft(source_key=f"cluster:{secrets.token_hex(4)}", conversation_id=None, customer_id=None,
                                      channel="web", language="zh", category="fees", description="管理费多扣了 120 元"),
                       utcnow() - timedelta(days=120))
             for _ in range(6)]

    def escalations():
        with sessions() as session:
            return session.execute(select(ComplaintEvent.complaint_id, ComplaintEvent.dedupe_key).where(
                ComplaintEvent.kind == "escalated", ComplaintEvent.complaint_id.in_([c.id for c in filed]))).all()

    wait_for(lambda: len(escalations()) >= 3 * len(filed), 30, "the escalations")
    time.sleep(3)  # both processes run the job every second
    assert sorted(escalations()) == sorted((c.id, f"overdue:{deadline}") for c in filed
                                           for deadline in ("first_reply", "resolution", "regulatory"))
