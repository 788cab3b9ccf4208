"""Fraud triage as customers meet it (issue #15, "Why"): through the contact service, Rasa and
the action server on loopback, inside agent hours, on SQLite and PostgreSQL. An insult is an
ordinary complaint, an offered ID number or code gets a warning, and only a real fraud files an
urgent complaint and goes to the head of the agents' queue."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from bot.complaints.models import Complaint
from bot.core.models import Message
from bot.core.staff import DEMO_SUPERVISOR
from tests.support.clients import Client, Console, texts
from tests.support.database import rows
from tests.support.system import IN_HOURS


pytestmark = pytest.mark.clock(IN_HOURS)  # agents on duty

URGENT_MARK = {"zh": "标记为紧急", "en": "marked this as urgent"}
CALL_POLICE = "110"
WARNING = {"zh": "长青财富绝不需要您的密码、验证码、身份证号或银行卡号", "en": "Evergreen Wealth never needs your password"}
MASKED_NOTE = {"zh": "您发来的号码已被隐藏", "en": "What you sent has been masked"}
COMPLAINT_OFFER = {"zh": ("登记投诉", "听起来这与"), "en": ("register your complaint", "This sounds like")}


def stored_customer_texts(database_url: str, conversation_id: str):
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            return session.execute(select(Message.text).where(Message.conversation_id == conversation_id,
                                                              Message.sender == "customer")).scalars().all()
    finally:
        engine.dispose()


def urgent_in_queue(system, conversation_id: str) -> bool:
    waiting = Console(system.contact_url).log_in(DEMO_SUPERVISOR).waiting()
    return any(h["conversation_id"] == conversation_id and h["urgent"] for h in waiting)


@pytest.mark.parametrize("lang, insult", [
    ("zh", "你们就是一群骗子，垃圾客服"),
    ("en", "you are useless scammers, worst service"),
])
def test_an_insult_is_offered_a_complaint_without_any_alarm(system, database_url, lang, insult):
    customer = Client(system.contact_url)
    conversation_id = customer.start()["conversation_id"]
    answer = texts(customer.say(insult))
    assert URGENT_MARK[lang] not in answer and CALL_POLICE not in answer
    assert any(offer in answer for offer in COMPLAINT_OFFER[lang]), answer
    assert not [c for c in rows(database_url, Complaint, conversation_id=conversation_id) if c.urgent]
    assert not urgent_in_queue(system, conversation_id)


@pytest.mark.parametrize("lang, message, number, masked", [
    ("zh", "我的身份证号是310101199003074518帮我查下持仓", "310101199003074518", "310101********4518"),
    ("en", "here's my ID number 310104198502283317, please check my holdings", "310104198502283317", "310104********3317"),
    ("zh", "我收到了验证码 384920，要告诉你吗", "384920", "验证码 ******"),
    ("en", "my password is Sunny2024! can you log in and check my balance", "Sunny2024", "password is ******"),
])
def test_an_offered_id_code_or_password_gets_the_warning_and_nothing_is_filed(system, database_url, lang, message,
                                                                              number, masked):
    customer = Client(system.contact_url)
    conversation_id = customer.start()["conversation_id"]
    answer = texts(customer.say(message))
    assert WARNING[lang] in answer and MASKED_NOTE[lang] in answer
    assert URGENT_MARK[lang] not in answer and CALL_POLICE not in answer
    assert rows(database_url, Complaint, conversation_id=conversation_id) == []
    assert not urgent_in_queue(system, conversation_id)
    [stored] = stored_customer_texts(database_url, conversation_id)
    assert number not in stored and masked in stored


def test_offering_a_code_without_sending_it_gets_the_warning_without_the_masked_note(system, database_url):
    customer = Client(system.contact_url)
    conversation_id = customer.start()["conversation_id"]
    answer = texts(customer.say("should I send you the sms code?"))
    assert WARNING["en"] in answer and MASKED_NOTE["en"] not in answer
    assert rows(database_url, Complaint, conversation_id=conversation_id) == []


@pytest.mark.parametrize("lang, report", [
    ("zh", "有人冒充你们的客服给我打电话，我把短信验证码告诉他了，现在钱被转走了"),
    ("en", "someone called me pretending to be you and I gave them my SMS code, now money is gone"),
])
def test_a_real_fraud_files_an_urgent_complaint_and_heads_the_queue(system, database_url, lang, report):
    waiting_first = Client(system.contact_url)
    waiting_first_id = waiting_first.start()["conversation_id"]
    waiting_first.say("I'd like to talk to a person")
    victim = Client(system.contact_url)
    victim_id = victim.start()["conversation_id"]
    answer = texts(victim.say(report))
    assert URGENT_MARK[lang] in answer and CALL_POLICE in answer
    [complaint] = rows(database_url, Complaint, conversation_id=victim_id)
    assert complaint.urgent
    waiting = Console(system.contact_url).log_in(DEMO_SUPERVISOR).waiting()
    order = [h["conversation_id"] for h in waiting if h["conversation_id"] in (waiting_first_id, victim_id)]
    assert order == [victim_id, waiting_first_id]
    assert waiting[0]["urgent"] and waiting[0]["reason"] == "fraud"


def test_a_threat_of_self_harm_is_urgent_whatever_the_topic(system, database_url):
    customer = Client(system.contact_url)
    conversation_id = customer.start()["conversation_id"]
    answer = texts(customer.say("钱全亏光了，活着没意思了"))
    assert URGENT_MARK["zh"] in answer
    assert urgent_in_queue(system, conversation_id)


def test_a_question_about_avoiding_scams_gets_advice_not_an_alarm(system, database_url):
    customer = Client(system.contact_url)
    conversation_id = customer.start()["conversation_id"]
    answer = texts(customer.say("怎么识别冒充你们客服的诈骗电话？"))
    assert "400-820-8888" in answer and URGENT_MARK["zh"] not in answer
    assert rows(database_url, Complaint, conversation_id=conversation_id) == []
