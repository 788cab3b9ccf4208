"""The console WebSocket sends each staff member only what they may see, and the customer's
typing reaches the agent who has the conversation: real processes on loopback (Rasa, the action
server, the contact service) with the clock inside agent hours, on SQLite and PostgreSQL. The
customer talks over HTTP and the app WebSocket; agent A, agent B and the supervisor each keep a
console WebSocket open (logged-in cookie, same Origin), as their browsers do."""

from __future__ import annotations

import secrets
import time
from typing import List, Optional

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from bot.core import staff as staff_accounts
from channels.web.routes import TYPING_FRAMES, TYPING_WINDOW
from bot.core.staff import DEMO_AGENT, DEMO_SUPERVISOR
from tests.support.clients import Client
from tests.support.sockets import Frame, Socket, StaffMember, customer_socket, message, queue_changed, typing, ws_url
from tests.support.system import IN_HOURS


pytestmark = pytest.mark.clock(IN_HOURS)  # agents on duty

COLLEAGUE, COLLEAGUE_PASSWORD = "agent-b", "agent-b-password-" + secrets.token_hex(4)


@pytest.fixture(scope="module")
def colleague(system, database_url):
    """A second agent, in the database the running service uses."""
    engine = create_engine(database_url)
    with Session(engine) as session:
        staff_accounts.save(session, COLLEAGUE, "Agent B", "agent", password=COLLEAGUE_PASSWORD)
    engine.dispose()
    return COLLEAGUE


def about(frames: List[Frame], conversation: str, kind: Optional[str] = None) -> List[Frame]:
    return [f for f in frames if f.get("conversation_id") == conversation and kind in (None, f["type"])]


def nobody_told_of_typing(consoles: List[Socket], waiting: Client, waiting_id: str, marker: str) -> None:
    """No console got a typing frame before ``marker``, a message the waiting customer sends a
    moment later (which every console gets)."""
    time.sleep(1)  # the typing frame sent just before has been handled
    assert waiting.say(marker)["replies"] == []
    for console in consoles:
        seen = console.until(message(waiting_id, marker))
        assert [f for f in seen if f["type"] == "typing"] == [], seen


def test_console_sockets_carry_a_conversation_only_to_its_agent_and_supervisors(system, colleague):
    base = system.contact_url
    agent = StaffMember(base).log_in(DEMO_AGENT)
    other = StaffMember(base).log_in_with(colleague, COLLEAGUE_PASSWORD)
    boss = StaffMember(base).log_in(DEMO_SUPERVISOR)
    sockets = {name: who.socket() for name, who in (("agent", agent), ("other", other), ("boss", boss))}
    everyone = list(sockets.values())
    a, b, s = sockets["agent"], sockets["other"], sockets["boss"]
    customer_ws = waiting_ws = None
    try:
        deadline = time.monotonic() + 30
        while agent.agents_online() != 3:  # every console has been registered
            assert time.monotonic() < deadline, "the three consoles never showed as online"
            time.sleep(0.1)

        # two customers ask for a person: every console hears of both
        customer = Client(base)
        conversation = customer.start()["conversation_id"]
        customer.say("我要转人工")
        for console in everyone:
            console.until(queue_changed(conversation))
        waiting = Client(base)
        waiting_id = waiting.start()["conversation_id"]
        waiting.say("I'd like to talk to a person")
        for console in everyone:
            console.until(queue_changed(waiting_id))
        # a waiting customer's words reach every console: any agent may open and claim it
        assert [r["sender"] for r in waiting.say("Is anyone there?")["replies"]] == ["system"]  # acknowledged only
        for console in everyone:
            console.until(message(waiting_id, "Is anyone there?"))

        # agent A claims the first conversation: everyone sees it leave the queue
        [handoff] = [h for h in agent.waiting() if h["conversation_id"] == conversation]
        status, answer = agent.call("POST", f"/console/api/handoffs/{handoff['id']}/claim")
        assert status == 200, answer
        for console in everyone:
            console.until(queue_changed(conversation))

        # from now on its messages, notes and the customer's typing go to A and the supervisor only
        customer_ws = customer_socket(customer)
        customer_ws.send({"type": "typing", "on": True})
        for console in (a, s):
            console.until(typing(conversation, on=True))
        customer_ws.send({"type": "typing", "on": False})
        for console in (a, s):
            console.until(typing(conversation, on=False))
        assert customer.say("我的赎回三天了还没到账")["replies"] == []
        for console in (a, s):
            console.until(message(conversation, "我的赎回三天了还没到账"))
        status, answer = agent.call("POST", f"/console/api/conversations/{conversation}/messages", {"text": "我来帮您查一下。"})
        assert status == 200, answer
        for console in (a, s):
            console.until(message(conversation, "我来帮您查一下。"))
        status, answer = agent.call("POST", f"/console/api/conversations/{conversation}/notes", {"text": "T+2 未到账"})
        assert status == 200, answer
        for console in (a, s):
            console.until(lambda f: f["type"] == "note" and f["conversation_id"] == conversation)
        # ...while B keeps getting what concerns the queue; nothing of A's conversation came before it
        assert waiting.say("Still waiting")["replies"] == []
        seen_by_b = b.until(message(waiting_id, "Still waiting"))
        assert about(seen_by_b, conversation) == [], seen_by_b
        for console in (a, s):
            console.until(message(waiting_id, "Still waiting"))

        # a waiting customer's typing goes nowhere: no agent has them yet
        waiting_ws = customer_socket(waiting)
        waiting_ws.send({"type": "typing", "on": True})
        nobody_told_of_typing(everyone, waiting, waiting_id, "Hello?")

        # typing frames are cheap to ignore: a burst is cut to a few, is no error, and does not use
        # up the customer's message allowance (20 a minute); a malformed one is refused
        for _ in range(30):
            customer_ws.send({"type": "typing", "on": True})
        customer_ws.send({"type": "typing", "on": "yes"})
        error = customer_ws.until(lambda f: f["type"] == "error")[-1]
        assert error["error"]["code"] == "invalid_request"
        customer_ws.send({"type": "message", "text": "还有一个问题", "client_message_id": secrets.token_hex(8)})
        answer = customer_ws.until(lambda f: f["type"] in ("error", "message"))[-1]  # its echo, not rate_limited
        assert answer["type"] == "message" and answer["message"]["text"] == "还有一个问题", answer
        for console in (a, s):
            seen = console.until(message(conversation, "还有一个问题"))
            assert 1 <= len(about(seen, conversation, "typing")) <= TYPING_FRAMES, seen

        # once A has handed the conversation back to the assistant, the customer's typing goes nowhere
        status, answer = agent.call("POST", f"/console/api/handoffs/{handoff['id']}/resolve")
        assert status == 200, answer
        for console in everyone:
            console.until(queue_changed(conversation))
        time.sleep(TYPING_WINDOW)  # the burst no longer holds back typing frames
        customer_ws.send({"type": "typing", "on": True})
        nobody_told_of_typing(everyone, waiting, waiting_id, "Hello again")
    finally:
        for socket in [*everyone, customer_ws, waiting_ws]:
            if socket is not None:
                socket.close()


def test_the_console_socket_needs_a_session_and_our_own_origin(system):
    base = system.contact_url
    nobody = Socket(ws_url(base, "/console/ws"), {"Origin": base})
    try:
        assert nobody.until(lambda f: True)[0]["error"]["code"] == "unauthorized"
    finally:
        nobody.close()
    agent = StaffMember(base).log_in(DEMO_AGENT)
    foreign = agent.socket(origin="https://evil.example")
    try:
        assert foreign.until(lambda f: True)[0]["error"]["code"] == "csrf_failed"
    finally:
        foreign.close()
