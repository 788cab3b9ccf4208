"""Handing a conversation to an agent and back, through the real processes on loopback, with the
clock frozen inside agent hours: the customer through the app API, the agent through the
console API with a logged-in session (cookie and CSRF token), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from bot.core.audit import AuditEntry
from bot.core.staff import DEMO_AGENT, DEMO_SUPERVISOR
from bot.surveys import Survey
from tests.support.clients import Client, Console, said_to, texts
from tests.support.system import IN_HOURS, identity_token


pytestmark = pytest.mark.clock(IN_HOURS)  # agents on duty


def test_a_customer_is_handed_to_an_agent_and_back(system, database_url):
    customer = Client(system.contact_url)
    conversation_id = customer.start(identity_token=identity_token("demo-premier"))["conversation_id"]
    assert "正在为您转接人工客服" in texts(customer.say("我要转人工"))
    assert any("目前没有人工客服在线" in text for text in said_to(customer, "system"))  # no console open: no estimate

    agent = Console(system.contact_url).log_in(DEMO_AGENT)
    [waiting] = [h for h in agent.waiting() if h["conversation_id"] == conversation_id]
    assert (waiting["reason"], waiting["tier"], waiting["queue"], waiting["position"]) == ("customer_request", "premier", "general", 1)

    acknowledged = customer.say("还在吗？我的赎回一直没到账")["replies"]  # for the agent, not the assistant
    # acknowledged (and, a clear question about redemptions, answered by the assistant too)
    assert acknowledged[0]["sender"] == "system" and "客服接入后会看到这条消息" in acknowledged[0]["text"]
    status, _ = agent.call("POST", f"/console/api/handoffs/{waiting['id']}/claim", csrf=False)
    assert status == 403  # no CSRF token
    status, claimed = agent.call("POST", f"/console/api/handoffs/{waiting['id']}/claim")
    assert status == 200 and claimed["handoff"]["agent_id"] == DEMO_AGENT
    assert any("客服 Demo Agent 已接入" in text for text in said_to(customer, "system"))

    status, view = agent.call("GET", f"/console/api/conversations/{conversation_id}")
    assert status == 200 and view["customer"]["tier"] == "premier" and view["customer"]["risk_level"] == "C3"
    assert [m["text"] for m in view["messages"] if m["sender"] == "customer"] == ["我要转人工", "还在吗？我的赎回一直没到账"]
    assert any("转接人工客服" in m["text"] for m in view["messages"] if m["sender"] == "bot")  # the bot part too

    status, _ = agent.call("POST", f"/console/api/conversations/{conversation_id}/messages",
                           {"text": "您好，我来帮您查一下赎回进度。"})
    assert status == 200
    assert said_to(customer, "agent") == ["您好，我来帮您查一下赎回进度。"]
    agent.call("POST", f"/console/api/conversations/{conversation_id}/notes", {"text": "客户赎回 T+2 未到账，已联系清算"})
    assert customer.say("好的谢谢")["replies"] == []
    assert all("清算" not in m["text"] for m in customer.history())  # notes are internal

    status, _ = agent.call("POST", f"/console/api/handoffs/{waiting['id']}/resolve")
    assert status == 200
    assert any("人工客服已结束本次服务" in text for text in said_to(customer, "system"))

    # The assistant is back and asks for a rating of the agent's service, then a comment.
    [survey] = [m for m in customer.history() if m["sender"] == "bot" and "打分" in m["text"]]
    assert "人工客服的服务" in survey["text"] and [b["title"] for b in survey["buttons"]] == ["1", "2", "3", "4", "5"]
    assert "感谢您的评分（4 分）" in texts(customer.tap(survey, "4"))
    assert "感谢您的宝贵意见" in texts(customer.say("处理得很快，回电请打 13812345678"))
    assert "100" in texts(customer.say("货币宝起购金额是多少"))

    with Session(create_engine(database_url)) as session:
        actions = [e.action for e in session.execute(select(AuditEntry).where(AuditEntry.target == conversation_id)).scalars()]
        [rated] = session.execute(select(Survey).where(Survey.conversation_id == conversation_id)).scalars()
    assert actions == ["claim", "reply", "note", "resolve"]
    assert (rated.trigger, rated.agent_id, rated.handoff_id, rated.channel, rated.rating) == \
        ("agent", DEMO_AGENT, waiting["id"], "web", 4)
    assert rated.comment == "处理得很快，回电请打 138****5678"  # personal numbers masked


def test_a_private_customer_reaches_their_advisory_team_and_may_ignore_the_survey(system, database_url):
    customer = Client(system.contact_url)
    conversation_id = customer.start(identity_token=identity_token("demo-private"))["conversation_id"]
    assert "私人银行专属顾问团队" in texts(customer.say("我要找我的专属顾问"))

    agent = Console(system.contact_url).log_in(DEMO_AGENT)
    [waiting] = [h for h in agent.waiting() if h["conversation_id"] == conversation_id]
    assert (waiting["reason"], waiting["queue"], waiting["tier"]) == ("private_advisor", "private", "private")
    agent.call("POST", f"/console/api/handoffs/{waiting['id']}/claim")
    agent.call("POST", f"/console/api/handoffs/{waiting['id']}/resolve")
    assert any("打分" in text for text in said_to(customer, "bot"))

    # Asking something else instead of rating simply gets an answer.
    assert "100" in texts(customer.say("货币宝起购金额是多少"))
    with Session(create_engine(database_url)) as session:
        [unanswered] = session.execute(select(Survey).where(Survey.conversation_id == conversation_id)).scalars()
    assert (unanswered.rating, unanswered.agent_id) == (None, DEMO_AGENT)


def test_a_goodbye_after_a_real_conversation_asks_for_a_rating_once(system, database_url):
    customer = Client(system.contact_url)
    conversation_id = customer.start(language="en")["conversation_id"]
    customer.say("What is the minimum investment for Money Market?")
    answer = customer.say("ok bye")
    assert "Goodbye" in texts(answer) and "how would you rate this conversation" in texts(answer)
    rated = texts(customer.say("2 stars"))
    assert "Thank you for your rating (2 out of 5)" in rated and "what went wrong" in rated  # low: asks why
    assert "thank you for your feedback" in texts(customer.say("/cancel"))  # Skip
    assert "rate" not in texts(customer.say("bye"))  # not asked again the same day
    with Session(create_engine(database_url)) as session:
        [rated] = session.execute(select(Survey).where(Survey.conversation_id == conversation_id)).scalars()
    assert (rated.trigger, rated.agent_id, rated.rating, rated.comment, rated.language) == ("bot", None, 2, None, "en")


def test_an_urgent_fraud_report_goes_to_the_head_of_the_queue(system):
    first = Client(system.contact_url)
    first_id = first.start()["conversation_id"]
    first.say("I'd like to talk to a person")
    victim = Client(system.contact_url)
    victim_id = victim.start()["conversation_id"]
    answer = texts(victim.say("Someone hacked my account and transferred money out, this is fraud"))
    assert "marked this as urgent" in answer

    supervisor = Console(system.contact_url).log_in(DEMO_SUPERVISOR)
    order = [h["conversation_id"] for h in supervisor.waiting() if h["conversation_id"] in (first_id, victim_id)]
    assert order == [victim_id, first_id]
    head = supervisor.waiting()[0]
    assert head["urgent"] and head["reason"] == "fraud" and head["complaint_reference"].startswith("C")


def test_the_console_needs_a_login(system):
    status, answer = Console(system.contact_url).call("GET", "/console/api/queue")
    assert status == 401 and answer["error"]["code"] == "unauthorized"
