"""The cluster keeps a conversation whole across its processes: customers and agents reach it
through nginx, or each contact service directly, and Rasa servers die under them (SIGKILL)."""

from __future__ import annotations

import secrets
import threading
import time
import urllib.error
from collections import Counter
from typing import Callable, Dict, List, Tuple

from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from bot.complaints.models import Complaint
from bot.core.models import Message
from bot.core.staff import DEMO_AGENT, DEMO_SUPERVISOR
from tests.support.clients import Client
from tests.support.sockets import Socket, StaffMember, customer_socket, message, typing
from tests.support.waiting import wait_for


def on(base_url: str, customer: Client) -> Client:
    """The same customer session, reaching another process (as a load balancer may send it)."""
    other = Client(base_url)
    other.session_token, other.visitor_token = customer.session_token, customer.visitor_token
    return other


def test_a_complaint_form_goes_on_across_contact_services_and_rasa_servers(cluster, postgres_database_url):
    """Each step reaches the other contact service; half-way through the Rasa server that served
    the start is killed, and the one that never saw the conversation carries the form on."""
    first = Client(cluster.url_of("contact", 0))
    first.start()
    second = on(cluster.url_of("contact", 1), first)
    sent: List[int] = []
    for customer, text in ((first, "我要投诉"), (second, "上周赎回稳盈债券被多扣了0.5%的赎回费，之前没人告诉过我")):
        sent.append(customer.say(text)["message"]["id"])
    cluster.kill("rasa", 0)
    try:
        sent.append(first.say("对")["message"]["id"])
        sent.append(second.say("退还赎回费")["message"]["id"])
        summary = first.say("我的手机 13812345678")
        sent.append(summary["message"]["id"])
        assert "· 类别：费用及收费标准" in "\n".join(r["text"] for r in summary["replies"])
    finally:
        cluster.start_process("rasa", 0)
    cluster.kill("rasa", 1)  # the last step on the restarted server alone
    try:
        filed = second.tap(summary, payload="/affirm")
    finally:
        cluster.start_process("rasa", 1)
    engine = create_engine(postgres_database_url)
    with Session(engine) as session:
        [reference] = session.execute(select(Complaint.reference).where(Complaint.description.contains("多扣了0.5%"))).scalars()
    engine.dispose()
    assert f"您的投诉已登记，编号 {reference}" in "\n".join(r["text"] for r in filed["replies"])
    history = first.history()
    assert [m["id"] for m in history if m["sender"] == "customer"] == sent + [filed["message"]["id"]]  # in order


# ---- live events, agents online and limits shared through Redis ------------------------------

MESSAGES_PER_MINUTE = 20  # Settings.rate_limit_messages, per conversation


def both(cluster) -> Tuple[str, str]:
    """Contact services A and B, reached directly (not through nginx) to choose which is which."""
    return cluster.url_of("contact", 0), cluster.url_of("contact", 1)


def with_agent(a: str, b: str) -> Tuple[Client, StaffMember, str]:
    """A customer on A whom the demo agent, on B, has claimed: (customer, agent, conversation id)."""
    customer = Client(a)
    conversation = customer.start()["conversation_id"]
    customer.say("我要转人工")
    agent = StaffMember(b).log_in(DEMO_AGENT)
    [handoff] = [h for h in agent.waiting() if h["conversation_id"] == conversation]
    status, answer = agent.call("POST", f"/console/api/handoffs/{handoff['id']}/claim")
    assert status == 200, answer
    return customer, agent, conversation


def reply(agent: StaffMember, conversation: str, text: str) -> None:
    status, answer = agent.call("POST", f"/console/api/conversations/{conversation}/messages", {"text": text})
    assert status == 200, answer


def accepted_until_limited(customer: Client, bases: List[str]) -> int:
    """Messages accepted (sent in turn through each of ``bases``) before one is refused (429)."""
    for sent in range(3 * MESSAGES_PER_MINUTE):
        customer.base_url = bases[sent % len(bases)]
        status, answer, _ = customer.call("POST", "/api/v1/messages", {"text": f"第{sent}条", "client_message_id": secrets.token_hex(8)})
        if status == 429:
            return sent
        assert status == 200, answer
    raise AssertionError("never limited")


def frames_about(socket: Socket, text: str, wait: float = 0.5) -> int:
    """How many message frames with ``text`` the socket still has, after ``wait`` seconds more."""
    time.sleep(wait)
    count = 0
    while not socket.frames.empty():
        frame = socket.frames.get()
        count += frame["type"] == "message" and frame["message"]["text"] == text
    return count


def test_a_customer_on_one_contact_service_and_an_agent_on_the_other_see_each_other(cluster):
    a, b = both(cluster)
    supervisor_on_a = StaffMember(a).log_in(DEMO_SUPERVISOR)  # no console socket: counts nobody
    agent = StaffMember(b).log_in(DEMO_AGENT)
    console = agent.socket()  # on B
    customer_ws = None
    try:
        wait_for(lambda: supervisor_on_a.agents_online() == 1 and agent.agents_online() == 1, 30, "the agent online on A and B")
        customer = Client(a)
        conversation = customer.start()["conversation_id"]
        customer_ws = customer_socket(customer)  # on A
        customer.say("我要转人工")
        console.until(lambda f: f["type"] == "queue_changed" and f["conversation_id"] == conversation)
        [handoff] = [h for h in agent.waiting() if h["conversation_id"] == conversation]
        status, answer = agent.call("POST", f"/console/api/handoffs/{handoff['id']}/claim")
        assert status == 200, answer

        customer_ws.send({"type": "typing", "on": True})
        console.until(typing(conversation, on=True))
        assert customer.say("我的赎回三天了还没到账")["replies"] == []
        console.until(message(conversation, "我的赎回三天了还没到账"))

        status, answer = agent.call("POST", f"/console/api/conversations/{conversation}/typing", {"on": True})
        assert status == 200, answer
        customer_ws.until(lambda f: f == {"type": "typing", "on": True})
        reply(agent, conversation, "我来帮您查一下。")
        customer_ws.until(lambda f: f["type"] == "message" and f["message"]["text"] == "我来帮您查一下。")
        assert frames_about(customer_ws, "我来帮您查一下。") == 0  # once, not once per process
    finally:
        for socket in (console, customer_ws):
            if socket is not None:
                socket.close()


def test_a_rate_limit_holds_across_both_contact_services(cluster):
    a, b = both(cluster)
    customer, _, _ = with_agent(a, b)  # its messages go to the agent: no assistant to wait for
    assert accepted_until_limited(customer, [a, b]) == MESSAGES_PER_MINUTE - 1  # "我要转人工" counted too
    customer.base_url = b
    status, _, headers = customer.call("POST", "/api/v1/messages", {"text": "再试", "client_message_id": secrets.token_hex(8)})
    assert status == 429 and int(headers["Retry-After"]) > 0


def test_after_redis_restarts_live_events_and_limits_work_again(cluster, redis_server):
    a, b = both(cluster)
    customer, agent, conversation = with_agent(a, b)
    customer_ws, console = customer_socket(customer), agent.socket()
    sockets = [customer_ws, console]
    try:
        redis_server.stop()
        # Nothing stored is lost while Redis is down: both ways, through either process.
        reply(agent, conversation, "Redis 停了，消息还在。")
        assert "Redis 停了，消息还在。" in [m["text"] for m in customer.history()]
        assert customer.say("收到了吗？")["replies"] == []
        status, answer = agent.call("GET", f"/console/api/conversations/{conversation}")
        assert status == 200 and "收到了吗？" in [m["text"] for m in answer["messages"]], answer

        redis_server.start()  # empty: it kept nothing
        # Each process subscribes again and closes its sockets (1012), so that clients reload.
        for socket in (customer_ws, console):
            wait_for(lambda: socket.ws.closed, 45, "the sockets closed for a reload")
            assert socket.ws.close_code == 1012
        customer_ws, console = customer_socket(customer), agent.socket()
        sockets += [customer_ws, console]
        reply(agent, conversation, "Redis 回来了。")
        customer_ws.until(lambda f: f["type"] == "message" and f["message"]["text"] == "Redis 回来了。")
        assert frames_about(customer_ws, "Redis 回来了。") == 0
        customer_ws.send({"type": "typing", "on": True})
        console.until(typing(conversation, on=True))
        assert StaffMember(a).log_in(DEMO_SUPERVISOR).agents_online() == 1
        # Redis counts afresh (what the processes counted alone meanwhile is not carried over).
        assert accepted_until_limited(customer, [b, a]) == MESSAGES_PER_MINUTE
        assert "Redis 停了，消息还在。" in [m["text"] for m in customer.history()]
    finally:
        for socket in sockets:
            socket.close()


# ---- SIGKILL under load -----------------------------------------------------------------------

QUESTIONS = [
    "长青货币宝起购金额是多少", "稳盈债券的风险等级是多少", "How do I redeem my fund?", "你们的营业时间是几点",
    "What is the minimum for the money market fund?", "赎回多久到账", "上海有哪些网点", "What are the fees for bond funds?",
]


class Customer(threading.Thread):
    """A customer through the load balancer, one message after another, sending a message again
    (same ``client_message_id``) when the service they reached died before answering, as the
    widget does; a new conversation every ``PER_CONVERSATION`` messages (under the rate limit)."""

    PER_CONVERSATION = 15

    def __init__(self, url: str, messages: int):
        super().__init__(daemon=True)
        self.client = Client(url)
        self.messages = messages
        self.sent: List[str] = []
        self.failure = None

    def _until_taken(self, call: Callable[[], Tuple[int, dict]]) -> dict:
        for _ in range(60):
            try:
                status, answer = call()
            except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
                status, answer = None, {}  # not reached, or nginx's own (HTML) 502: the process died
            if status == 200:
                return answer
            assert status in (None, 502, 503, 504), (status, answer)
            time.sleep(0.5)
        raise AssertionError("never taken")

    def run(self) -> None:
        try:
            for n in range(self.messages):
                if n % self.PER_CONVERSATION == 0:
                    self.client.session_token = None
                    answer = self._until_taken(lambda: self.client.call("POST", "/api/v1/sessions", {}, auth=False)[:2])
                    self.client.session_token = answer["session_token"]
                client_id = secrets.token_hex(8)
                body = {"text": QUESTIONS[n % len(QUESTIONS)], "client_message_id": client_id}
                self._until_taken(lambda: self.client.call("POST", "/api/v1/messages", body)[:2])
                self.sent.append(client_id)
        except Exception as error:  # noqa: BLE001 — reported by the test
            self.failure = error


def test_sigkill_of_each_kind_under_load_loses_nothing_and_answers_nothing_twice(cluster, postgres_database_url):
    customers = [Customer(cluster.url, 40) for _ in range(5)]
    for customer in customers:
        customer.start()
    for kind in ("rasa", "actions", "contact"):
        time.sleep(4)
        cluster.kill(kind, 0)
        time.sleep(3)
        cluster.start_process(kind, 0)
    for customer in customers:
        customer.join(timeout=600)
        assert customer.failure is None, customer.failure
    sent = [client_id for customer in customers for client_id in customer.sent]
    assert len(sent) == 200

    engine = create_engine(postgres_database_url)

    def pending() -> int:
        with Session(engine) as session:
            return session.execute(select(func.count()).select_from(Message).where(
                Message.client_message_id.in_(sent), Message.status == "pending")).scalar_one()

    wait_for(lambda: pending() == 0, timeout=180, message="every message answered")
    with Session(engine) as session:
        inbound = session.execute(select(Message).where(Message.client_message_id.in_(sent))).scalars().all()
        assert sorted(m.client_message_id for m in inbound) == sorted(sent)  # each stored once
        assert {m.status for m in inbound} == {"answered"}
        replies: Dict[int, List[str]] = {}
        for reply_to, text in session.execute(select(Message.reply_to, Message.text).where(
                Message.reply_to.in_([m.id for m in inbound]), Message.sender == "bot")):
            replies.setdefault(reply_to, []).append(text)
    engine.dispose()
    assert set(replies) == {m.id for m in inbound}  # the assistant answered each one
    doubled = {id_: texts for id_, texts in replies.items() if max(Counter(texts).values()) > 1}
    assert doubled == {}  # and none twice
