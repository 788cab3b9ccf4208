"""Recovery never stalls: a message the assistant keeps failing on is retried with backoff,
parked for supervisors and the customer told once, while every other message is answered; a
complaint confirmed while Rasa restarts is filed and its reference told. Real processes: Rasa,
the action server and the contact service on loopback, with a fault-injecting proxy in front of
Rasa where a fault must hit one message only."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.request
from typing import List

import aiohttp
from aiohttp import web
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from bot.complaints.models import Complaint
from bot.core.models import Message
from bot.core.staff import demo_token
from bot.launcher import Assistant
from tests.support.clients import Client
from tests.support.ports import free_port
from tests.support.system import MODEL, contact_service_alone, service_env
from tests.support.waiting import wait_for


POISON = "POISON"


class FaultyRasa:
    """A proxy in front of Rasa that can be switched down (connections dropped, as when Rasa is
    restarting) and answers a message containing POISON with nothing (as Rasa does when an action
    fails on it); everything else is passed through."""

    def __init__(self, rasa_url: str):
        self.rasa_url = rasa_url
        self.port = free_port()
        self.down = False
        self.poison = True
        self.poisoned_calls = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if self.down:
            request.transport.close()  # the client sees the connection drop
            return web.Response()
        body = await request.read()
        if self.poison and POISON.encode() in body:
            self.poisoned_calls += 1
            return web.json_response([])
        async with aiohttp.ClientSession() as http:
            async with http.request(request.method, self.rasa_url + request.path_qs, data=body or None,
                                    headers={"Content-Type": request.content_type}) as answer:
                return web.Response(body=await answer.read(), status=answer.status, content_type=answer.content_type)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    def __enter__(self) -> "FaultyRasa":
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def staff_call(url: str, method: str, path: str):
    request = urllib.request.Request(url + path, method=method, headers={"Authorization": f"Bearer {demo_token()}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def senders(customer: Client) -> List[str]:
    return [m["sender"] for m in customer.history()]


def test_a_poisoned_message_is_parked_and_everything_else_is_answered(tmp_path):
    """Today's main: the retry loop stopped at the first message that failed, so after an outage
    every message stored behind a poisoned one stayed unanswered."""
    database_url = f"sqlite:///{tmp_path / 'contact.db'}"
    with Assistant(MODEL, free_port(), free_port(), tmp_path / "logs", service_env=service_env(database_url)) as assistant, \
            FaultyRasa(assistant.rasa_url) as rasa, \
            contact_service_alone(tmp_path, rasa.port, ACTIONS_URL=assistant.actions_url, CONTACT_MAX_ANSWER_ATTEMPTS="3") as url:
        engine = create_engine(database_url)
        rasa.down = True
        customers = [Client(url) for _ in range(4)]
        said = ["长青货币宝起购金额是多少", f"{POISON} 稳盈债券的风险等级", "How do I redeem Evergreen Cash Plus?", "你们的客服热线是多少"]
        stored = []
        for customer, text in zip(customers, said):
            customer.start()
            answer = customer.say(text)
            assert [r["sender"] for r in answer["replies"]] == ["system"]  # the apology: saved, answered later
            stored.append(answer["message"]["id"])
        time.sleep(3)  # the retry loop meets the outage: nothing is charged to the messages
        with Session(engine) as session:
            assert [session.get(Message, i).attempts for i in stored] == [0, 0, 0, 0]

        rasa.down = False
        for customer in customers[:1] + customers[2:]:
            wait_for(lambda: "bot" in senders(customer), timeout=90)
        poisoned = customers[1]
        with Session(engine) as session:
            wait_for(lambda: session.get(Message, stored[1]).status == "parked", timeout=90)
            session.expire_all()
            assert session.get(Message, stored[1]).attempts == 3
        assert rasa.poisoned_calls == 3
        history = poisoned.history()
        assert [m["sender"] for m in history] == ["customer", "system", "system"]
        assert "客服主管会查看处理" in history[2]["text"]  # told once, in the customer's language

        parked = staff_call(url, "GET", "/api/v1/staff/messages/parked")["messages"]
        assert [(m["id"], m["attempts"]) for m in parked] == [(stored[1], 3)]
        with urllib.request.urlopen(url + "/metrics", timeout=30) as response:
            assert 'evergreen_messages_parked{channel="web"} 1.0' in response.read().decode()

        time.sleep(3)  # parked: the loop leaves it alone
        assert rasa.poisoned_calls == 3 and len(poisoned.history()) == 3
        rasa.poison = False  # the cause is fixed; a supervisor gives the message back
        assert staff_call(url, "POST", f"/api/v1/staff/messages/{stored[1]}/retry")["message"]["status"] == "pending"
        wait_for(lambda: senders(poisoned) == ["customer", "system", "system", "bot"], timeout=90)
        assert "R2" in poisoned.history()[3]["text"]
        assert staff_call(url, "GET", "/api/v1/staff/messages/parked")["messages"] == []
        engine.dispose()


def test_a_complaint_submitted_while_rasa_restarts_is_filed_and_its_reference_told(system, database_url):
    """Today's main: the form lived in Rasa's memory; the retry replayed "Submit" into a fresh
    conversation and got "What else can I help you with?" (no complaint)."""
    customer = Client(system.contact_url)
    customer.start()
    customer.say("我要投诉")
    customer.say("上周赎回稳盈债券被多扣了0.5%的赎回费，之前没人告诉过我")
    customer.say("对")
    customer.say("退还赎回费")
    summary = customer.say("我的手机 13812345678")
    assert "· 类别：费用及收费标准" in "\n".join(r["text"] for r in summary["replies"])

    told = []
    system.restart_rasa(lambda: told.append(customer.tap(summary, payload="/affirm")))
    assert [r["sender"] for r in told[0]["replies"]] == ["system"]  # "saved, will be answered"

    wait_for(lambda: "bot" in [m["sender"] for m in customer.history(told[0]["message"]["id"])], timeout=120)
    engine = create_engine(database_url)
    with Session(engine) as session:
        [reference] = session.execute(select(Complaint.reference).where(Complaint.description.contains("多扣了0.5%"))).scalars()
        assert session.execute(select(func.count()).select_from(Complaint)
                               .where(Complaint.description.contains("多扣了0.5%"))).scalar_one() == 1
    engine.dispose()
    answer = "\n".join(m["text"] for m in customer.history(told[0]["message"]["id"]) if m["sender"] == "bot")
    assert f"您的投诉已登记，编号 {reference}" in answer
