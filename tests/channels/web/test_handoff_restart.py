"""Every process restarted in the middle of a handoff (issue #5): the action server, Rasa and the
contact service all stop while an agent has a customer, and start again on the same ports and
database. The conversation is still with the agent and nothing is lost, on SQLite and PostgreSQL.
The customer speaks the app API, the agent the console API (cookie and CSRF token), with the
clock frozen inside agent hours (``system`` from test_handoff)."""

from __future__ import annotations

import urllib.error

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from bot import knowledge
from bot.core.audit import AuditEntry
from bot.core.staff import DEMO_AGENT
from tests.support.clients import Client, Console, said_to, texts
from tests.support.system import IN_HOURS, identity_token


pytestmark = pytest.mark.clock(IN_HOURS)  # agents on duty


def everything_said(customer: Client):
    """The conversation as the customer's app shows it: who said what, in order."""
    return [(m["sender"], m["text"]) for m in customer.history()]


def test_every_process_restarts_in_the_middle_of_a_handoff_and_nothing_is_lost(system, database_url):
    # A verified customer asks for a person; an agent logs in, claims, and they talk.
    customer = Client(system.contact_url)
    conversation_id = customer.start(identity_token=identity_token("demo-premier"))["conversation_id"]
    assert "正在为您转接人工客服" in texts(customer.say("我要转人工"))
    agent = Console(system.contact_url).log_in(DEMO_AGENT)
    [handoff] = [h for h in agent.waiting() if h["conversation_id"] == conversation_id]
    status, _ = agent.call("POST", f"/console/api/handoffs/{handoff['id']}/claim")
    assert status == 200
    assert customer.say("我的赎回三天了还没到账")["replies"] == []
    status, _ = agent.call("POST", f"/console/api/conversations/{conversation_id}/messages",
                           {"text": "您好，我来帮您查一下赎回进度。"})
    assert status == 200
    before = customer.history()

    # Every process stops. The customer's app cannot reach the service and keeps the message.
    system.stop()
    with pytest.raises(urllib.error.URLError):
        customer.say("请问查到了吗？", client_message_id="sent-while-down")

    # Everything starts again on the same ports and database.
    system.start()

    # The app sends the kept message again with the same session token: it is stored once and
    # goes to the agent, not the assistant (no bot reply).
    resent = customer.say("请问查到了吗？", client_message_id="sent-while-down")
    assert (resent["duplicate"], resent["replies"]) == (False, [])
    assert customer.say("请问查到了吗？", client_message_id="sent-while-down")["duplicate"] is True

    # The agent's console session (server-side, in the database) and CSRF token still work,
    # and the agent still has the conversation.
    status, me = agent.call("GET", "/console/api/me")
    assert status == 200 and me["staff"]["id"] == DEMO_AGENT
    status, queue = agent.call("GET", "/console/api/queue")
    assert status == 200
    assert conversation_id not in [h["conversation_id"] for h in queue["waiting"]]
    assert [(h["conversation_id"], h["state"], h["agent_id"]) for h in queue["mine"]] == [(conversation_id, "with_agent", DEMO_AGENT)]
    status, view = agent.call("GET", f"/console/api/conversations/{conversation_id}")
    assert status == 200 and (view["handoff"]["state"], view["handoff"]["agent_id"]) == ("with_agent", DEMO_AGENT)
    assert [m["text"] for m in view["messages"] if m["sender"] == "customer"][-1] == "请问查到了吗？"

    # The agent answers and the customer sees it; the customer's next message still goes to the agent.
    status, _ = agent.call("POST", f"/console/api/conversations/{conversation_id}/messages",
                           {"text": "查到了，款项明天到账。"})
    assert status == 200
    assert said_to(customer, "agent") == ["您好，我来帮您查一下赎回进度。", "查到了，款项明天到账。"]
    assert customer.say("好的谢谢")["replies"] == []

    # The whole history is exactly what was said, each message once, in order, and the
    # agent's view of it is the same.
    history = customer.history()
    assert history[: len(before)] == before  # nothing from before the restart was lost or changed
    assert len({m["id"] for m in history}) == len(history)
    said = everything_said(customer)
    assert [sender for sender, _ in said] == [
        "customer", "bot", "system", "system", "customer", "agent", "customer", "agent", "customer"]
    assert said[1] == ("bot", knowledge.message("handoff_connecting", "zh"))
    assert said[2] == ("system", knowledge.message("waiting_nobody_online", "zh"))  # no agent had the console open
    assert said[3] == ("system", knowledge.message("agent_joined", "zh", name="Demo Agent"))
    assert [said[i] for i in (0, 4, 5, 6, 7, 8)] == [
        ("customer", "我要转人工"),
        ("customer", "我的赎回三天了还没到账"),
        ("agent", "您好，我来帮您查一下赎回进度。"),
        ("customer", "请问查到了吗？"),
        ("agent", "查到了，款项明天到账。"),
        ("customer", "好的谢谢"),
    ]
    status, view = agent.call("GET", f"/console/api/conversations/{conversation_id}")
    assert status == 200 and [(m["sender"], m["text"]) for m in view["messages"]] == said

    # The agent resolves: the customer is told, and the assistant answers again.
    status, _ = agent.call("POST", f"/console/api/handoffs/{handoff['id']}/resolve")
    assert status == 200
    assert knowledge.message("agent_left", "zh") in said_to(customer, "system")
    answer = customer.say("货币宝起购金额是多少")
    assert any(reply["sender"] == "bot" and "100" in reply["text"] for reply in answer["replies"]), answer

    # Each agent action was recorded once, across the restart.
    with Session(create_engine(database_url)) as session:
        actions = [e.action for e in session.execute(select(AuditEntry).where(AuditEntry.target == conversation_id)).scalars()]
    assert actions == ["claim", "reply", "reply", "resolve"]
