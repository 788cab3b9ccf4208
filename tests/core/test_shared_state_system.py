"""Two contact-service processes (A and B, as behind a load balancer) on one PostgreSQL database
and one Redis of the test's own (a redis-server child process on a free port), with Rasa and the
action server, all real processes on loopback: a customer on A and an agent on B see each other's
messages and typing, both count the same agents online and the same rate limit, and after Redis
restarts (empty) live events and limits work again with nothing stored lost."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest
import redis

from bot.core.staff import DEMO_AGENT, DEMO_SUPERVISOR
from bot.launcher import _wait_until_up
from tests.channels.web.test_console_socket import Socket, StaffMember, customer_socket, message, typing
from tests.support.clients import Client
from tests.support.database import new_database
from tests.support.ports import free_port
from tests.support.system import IN_HOURS, ROOT, running_assistant
from tests.support.waiting import wait_for

MESSAGES_PER_MINUTE = 20  # Settings.rate_limit_messages, per conversation


class PrivateRedis:
    """A redis-server of the test's own, keeping nothing on disk, that can be stopped and started again."""

    def __init__(self, folder: Path):
        self.port, self.folder = free_port(), folder
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "PrivateRedis":
        self.process = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                         "--appendonly", "no", "--dir", str(self.folder)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        wait_for(lambda: self._pings(client), 15, "redis-server to answer")
        return self

    @staticmethod
    def _pings(client) -> bool:
        try:
            return client.ping()
        except redis.ConnectionError:
            return False

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=15)


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path_factory.mktemp("redis")).start()
    yield server
    if server.process.poll() is None:
        server.stop()


@pytest.fixture(scope="module")
def services(private_redis, tmp_path_factory) -> Iterator[Tuple[str, str]]:
    """The base URLs of contact services A (the Assistant's) and B (a second `python -m bot.server`
    with the same environment on another port)."""
    logs = tmp_path_factory.mktemp("logs")
    with new_database("postgresql", logs) as database_url, \
            running_assistant(database_url, logs, clock=IN_HOURS, REDIS_URL=private_redis.url,
                              CONSOLE_AGENT_CAPACITY="10") as assistant:
        port = free_port()
        env = {**assistant._environment(), "CONTACT_HOST": "127.0.0.1", "CONTACT_PORT": str(port),
               "RASA_URL": assistant.rasa_url, "RASA_API_TOKEN": assistant.rasa_token, "ACTIONS_URL": assistant.actions_url}
        with open(logs / "contact-b.log", "wb") as log:
            second = subprocess.Popen([sys.executable, "-m", "bot.server"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_up(f"http://127.0.0.1:{port}/health", second, 60)
            yield assistant.contact_url, f"http://127.0.0.1:{port}"
        finally:
            second.terminate()
            second.wait(timeout=15)


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


def test_a_customer_on_one_process_and_an_agent_on_the_other_see_each_other(services):
    a, b = services
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


def test_a_rate_limit_holds_across_both_processes(services):
    a, b = services
    customer, _, _ = with_agent(a, b)  # its messages go to the agent: no assistant to wait for
    assert accepted_until_limited(customer, [a, b]) == MESSAGES_PER_MINUTE - 1  # "我要转人工" counted too
    customer.base_url = b
    status, _, headers = customer.call("POST", "/api/v1/messages", {"text": "再试", "client_message_id": secrets.token_hex(8)})
    assert status == 429 and int(headers["Retry-After"]) > 0


def test_after_redis_restarts_live_events_and_limits_work_again(services, private_redis):
    a, b = services
    customer, agent, conversation = with_agent(a, b)
    customer_ws, console = customer_socket(customer), agent.socket()
    sockets = [customer_ws, console]
    try:
        private_redis.stop()
        # Nothing stored is lost while Redis is down: both ways, through either process.
        reply(agent, conversation, "Redis 停了，消息还在。")
        assert "Redis 停了，消息还在。" in [m["text"] for m in customer.history()]
        assert customer.say("收到了吗？")["replies"] == []
        status, answer = agent.call("GET", f"/console/api/conversations/{conversation}")
        assert status == 200 and "收到了吗？" in [m["text"] for m in answer["messages"]], answer

        private_redis.start()  # empty: it kept nothing
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
