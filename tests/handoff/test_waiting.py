"""Honest waiting through the real processes on loopback (the customer on the app API, agents on
the console API, SQLite and PostgreSQL), with a clock the test moves or lets run: no agent online
means no estimate and three choices; messages while waiting reach the agents and are acknowledged
once a minute, a clear question is still answered by the assistant, "不等了" leaves the queue; a
callback is offered after the configured wait; the queue API marks waits over the service level;
at 21:00 the waiting customers become callbacks or left messages and are told."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta

import pytest

from bot.bookings.models import Callback
from bot.core.models import Conversation, Message
from bot.core.staff import DEMO_AGENT
from bot.handoff.models import Handoff
from tests.support.clients import Client, Console, texts
from tests.support.clock import Clock
from tests.support.database import rows, stored
from tests.support.system import IN_HOURS, running_assistant
from tests.support.waiting import wait_for

OFFER_AFTER = 300  # seconds (CONTACT_CALLBACK_OFFER_AFTER)
CHOICES = ["继续等待", "预约回电", "给客服留言"]


@pytest.fixture(scope="module")
def moving_clock(database_url, tmp_path_factory):
    return Clock(tmp_path_factory.mktemp("clock") / "clock.json", IN_HOURS)


@pytest.fixture(scope="module")
def system(database_url, tmp_path_factory, moving_clock):
    with running_assistant(database_url, tmp_path_factory.mktemp("logs"), **moving_clock.env,
                           CONTACT_WAITING_INTERVAL="0.5", CONTACT_CALLBACK_OFFER_AFTER=str(OFFER_AFTER)) as assistant:
        yield assistant


def queued(system, first_words=()):
    """A customer (anonymous) who asked for an agent; and their conversation's id."""
    customer = Client(system.contact_url)
    conversation_id = customer.start()["conversation_id"]
    for words in first_words:
        customer.say(words)
    assert "正在为您转接人工客服" in texts(customer.say("我要转人工"))
    return customer, conversation_id


def handoff_of(database_url, conversation_id) -> Handoff:
    return stored(database_url, Handoff, conversation_id=conversation_id)


def owner(database_url, conversation_id) -> str:
    return stored(database_url, Conversation, id=conversation_id).owner


def system_said(customer):
    return [m for m in customer.history() if m["sender"] == "system"]


def test_with_no_agent_online_the_customer_gets_no_estimate_but_three_choices(system, database_url):
    customer, conversation_id = queued(system)
    [told] = system_said(customer)
    assert "目前没有人工客服在线" in told["text"] and "分钟" not in told["text"]
    assert [b["title"] for b in told["buttons"]] == CHOICES
    assert owner(database_url, conversation_id) == "queued"


def test_messages_while_waiting_reach_the_agents_and_are_acknowledged_at_most_once_a_minute(system, database_url, moving_clock):
    customer, conversation_id = queued(system)
    first = customer.say("还在吗？我的赎回一直没到账")
    assert re.search(r"客服接入后会看到这条消息。您现在排第 \d+ 位", texts(first))
    assert customer.say("麻烦快一点")["replies"] == []  # within the minute: not again
    moving_clock.forward(61)
    assert "客服接入后会看到这条消息" in texts(customer.say("有人吗"))
    agent = Console(system.contact_url).log_in(DEMO_AGENT)
    status, view = agent.call("GET", f"/console/api/conversations/{conversation_id}")
    assert status == 200
    assert [m["text"] for m in view["messages"] if m["sender"] == "customer"][-3:] == ["还在吗？我的赎回一直没到账", "麻烦快一点", "有人吗"]
    assert {m.status for m in rows(database_url, Message, conversation_id=conversation_id, sender="customer")[-3:]} == {"for_agent"}


def test_a_clear_question_while_waiting_is_answered_by_the_assistant_and_the_customer_stays_queued(system, database_url):
    customer, conversation_id = queued(system)
    answer = customer.say("赎回多久到账")
    by_assistant = [r["text"] for r in answer["replies"] if r["sender"] == "bot"]
    assert by_assistant and "T+2" in by_assistant[0]
    assert handoff_of(database_url, conversation_id).state == "waiting" and owner(database_url, conversation_id) == "queued"
    assert customer.say("我要投诉你们")["replies"] == []  # anything else is for the agents alone (acknowledged already)


@pytest.mark.parametrize("words, told", [("不等了", "已为您取消人工排队"), ("取消排队", "已为您取消人工排队"),
                                         ("I'll stop waiting", "you've left the queue"), ("cancel", "you've left the queue")])
def test_a_customer_who_no_longer_wants_to_wait_leaves_the_queue(system, database_url, words, told):
    customer, conversation_id = queued(system)
    assert told in texts(customer.say(words))  # in the words' language
    assert handoff_of(database_url, conversation_id).state == "withdrawn" and owner(database_url, conversation_id) == "bot"
    assert "T+2" in texts(customer.say("赎回多久到账"))  # the assistant answers again


def test_a_customer_may_leave_a_message_for_the_agents_instead_of_waiting(system, database_url):
    customer, conversation_id = queued(system)
    [choices] = system_said(customer)
    assert "请把想告诉客服的内容发在这里" in texts(customer.tap(choices, "给客服留言"))
    assert handoff_of(database_url, conversation_id).left_message_at is not None
    assert "已转给人工客服，客服会在这里回复您" in texts(customer.say("我想把绑定的银行卡换成招商银行的"))
    [mine] = [h for h in Console(system.contact_url).log_in(DEMO_AGENT).waiting() if h["conversation_id"] == conversation_id]
    assert mine["left_message"] is True and mine["state"] == "waiting"


def test_the_queue_api_marks_waits_over_the_service_level(system, moving_clock):
    customer, conversation_id = queued(system)
    agent = Console(system.contact_url).log_in(DEMO_AGENT)
    status, queue = agent.call("GET", "/console/api/queue")
    assert status == 200 and queue["service_level_seconds"] == 120
    [fresh] = [h for h in queue["waiting"] if h["conversation_id"] == conversation_id]
    assert fresh["over_service_level"] is False
    moving_clock.forward(121)
    [late] = [h for h in agent.waiting() if h["conversation_id"] == conversation_id]
    assert late["over_service_level"] is True


def test_after_the_configured_wait_a_callback_is_offered_once_and_taking_it_books_one(system, database_url, moving_clock):
    customer, conversation_id = queued(system)

    def offers():
        return [m for m in system_said(customer) if m["text"].startswith("抱歉，您已等待")]

    assert offers() == []
    moving_clock.forward(OFFER_AFTER + 1)
    [offer] = wait_for(offers, 30, "the callback offer")
    assert "5 分钟" in offer["text"] and [b["title"] for b in offer["buttons"]] == ["预约回电", "继续等待"]
    time.sleep(2)  # several more checks of the waiting customers
    assert len(offers()) == 1
    answer = customer.tap(offer, "预约回电")
    assert "请问怎么称呼您" in texts(answer) and all(r["sender"] == "bot" for r in answer["replies"])  # the assistant's booking form
    assert handoff_of(database_url, conversation_id).state == "withdrawn" and owner(database_url, conversation_id) == "bot"


def test_at_closing_time_waiting_customers_become_callbacks_or_left_messages_and_are_told(system, database_url, moving_clock):
    day = moving_clock.now().date()
    moving_clock.run_from(datetime.fromisoformat(f"{day}T20:59:30+08:00"))
    with_phone, phone_id = queued(system, ["赎回多久到账？我手机 13812345678"])
    without, other_id = queued(system)
    assert moving_clock.now().hour == 20, "queued before 21:00"
    [callback] = wait_for(lambda: rows(database_url, Callback, conversation_id=phone_id), 90, "the callback at closing")
    assert callback.mobile == "138****5678" and callback.window_start.isoformat() == f"{day + timedelta(days=1)}T09:00:00+08:00"
    told = wait_for(lambda: [m["text"] for m in system_said(with_phone) if callback.reference in m["text"]], 10, "the notice")
    assert "人工客服已于 21:00 下班" in told[0] and "138****5678" in told[0]
    handoff = handoff_of(database_url, phone_id)
    assert (handoff.state, handoff.callback_reference, owner(database_url, phone_id)) == ("withdrawn", callback.reference, "bot")

    wait_for(lambda: handoff_of(database_url, other_id).left_message_at is not None, 10, "the left message")
    assert any("您的问题已作为留言转给客服" in m["text"] for m in system_said(without))
    assert owner(database_url, other_id) == "bot" and rows(database_url, Callback, conversation_id=other_id) == []
    assert texts(without.say("赎回多久到账"))  # after closing the assistant answers
    [morning] = [h for h in Console(system.contact_url).log_in(DEMO_AGENT).waiting() if h["conversation_id"] == other_id]
    assert morning["left_message"] is True
