"""The cluster keeps a conversation whole across its processes: customers and agents reach it
through nginx, or each contact service directly, and Rasa servers die under them (SIGKILL)."""

from __future__ import annotations

import secrets
import threading
import time
import urllib.error
from collections import Counter
from typing import Dict, List

from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from bot.complaints.models import Complaint
from bot.core.models import Message
from bot.core.staff import DEMO_AGENT
from tests.support.clients import Client
from tests.support.sockets import StaffMember, customer_socket, message, queue_changed, typing
from tests.support.waiting import wait_for


def on(base_url: str, customer: Client) -> Client:
    """The same customer session, reaching another process (as a load balancer may send it)."""
    other = Client(base_url)
    other.session_token, other.visitor_token = customer.session_token, customer.visitor_token
    return other


def test_a_complaint_form_goes_on_across_contact_services_and_rasa_servers(cluster, cluster_database):
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
    engine = create_engine(cluster_database)
    with Session(engine) as session:
        [reference] = session.execute(select(Complaint.reference).where(Complaint.description.contains("多扣了0.5%"))).scalars()
    engine.dispose()
    assert f"您的投诉已登记，编号 {reference}" in "\n".join(r["text"] for r in filed["replies"])
    history = first.history()
    assert [m["id"] for m in history if m["sender"] == "customer"] == sent + [filed["message"]["id"]]  # in order


def test_an_agent_on_one_contact_service_serves_a_customer_on_the_other(cluster, redis_server):
    customer = Client(cluster.url_of("contact", 0))
    conversation = customer.start()["conversation_id"]
    agent = StaffMember(cluster.url_of("contact", 1)).log_in(DEMO_AGENT)
    console = agent.socket()
    customer.say("我要转人工")
    console.until(queue_changed(conversation))
    [handoff] = [h for h in agent.waiting() if h["conversation_id"] == conversation]
    status, answer = agent.call("POST", f"/console/api/handoffs/{handoff['id']}/claim")
    assert status == 200, answer
    widget = customer_socket(customer)
    try:
        widget.send({"type": "typing", "on": True})
        console.until(typing(conversation, on=True))
        customer.say("我的赎回三天了还没到账")
        console.until(message(conversation, "我的赎回三天了还没到账"))
        status, answer = agent.call("POST", f"/console/api/conversations/{conversation}/messages", {"text": "我来帮您查一下。"})
        assert status == 200, answer
        widget.until(lambda f: f.get("type") == "message" and f["message"]["text"] == "我来帮您查一下。")

        # Redis dies and comes back: live events flow again once both services have reconnected
        redis_server.restart()
        marker = f"还在吗 {secrets.token_hex(2)}"

        def heard() -> bool:
            customer.say(marker)
            try:
                console.until(message(conversation, marker), timeout=3)
                return True
            except AssertionError:
                return False

        wait_for(heard, timeout=60, message="the console hears the customer after Redis restarted")
        assert [m["text"] for m in customer.history()].count("我来帮您查一下。") == 1  # nothing lost or doubled
    finally:
        widget.close()
        console.close()


# ---- SIGKILL under load -----------------------------------------------------------------------

QUESTIONS = [
    "长青货币宝起购金额是多少", "稳盈债券的风险等级是多少", "How do I redeem my fund?", "你们的营业时间是几点",
    "What is the minimum for the money market fund?", "赎回多久到账", "上海有哪些网点", "What are the fees for bond funds?",
]


class Customer(threading.Thread):
    """A customer through the load balancer, one message after another, sending a message again
    (same ``client_message_id``) when the service they reached died before answering, as the
    widget does."""

    def __init__(self, url: str, messages: int):
        super().__init__(daemon=True)
        self.client = Client(url)
        self.client.start()
        self.messages = messages
        self.sent: List[str] = []
        self.resent = 0
        self.failure = None

    def run(self) -> None:
        try:
            for n in range(self.messages):
                client_id = secrets.token_hex(8)
                text = f"{QUESTIONS[n % len(QUESTIONS)]}"
                for attempt in range(60):
                    try:
                        status, answer, _ = self.client.call("POST", "/api/v1/messages", {"text": text, "client_message_id": client_id})
                    except (urllib.error.URLError, ConnectionError, TimeoutError):
                        status = None
                    if status == 200:
                        break
                    assert status in (None, 502, 503, 504), (status, answer)
                    self.resent += 1
                    time.sleep(0.5)
                else:
                    raise AssertionError(f"message {client_id} never taken")
                self.sent.append(client_id)
        except Exception as error:  # noqa: BLE001 — reported by the test
            self.failure = error


def test_sigkill_of_each_kind_under_load_loses_nothing_and_answers_nothing_twice(cluster, cluster_database):
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

    engine = create_engine(cluster_database)

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
