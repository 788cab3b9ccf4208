"""The contact service on its own: when Rasa or the action server is down the customer gets an
apology, the message stays stored, and it is answered once the assistant is back; when the
database is down new messages are refused clearly and nothing stored is lost; floods of new
sessions from one address are refused."""

import secrets
import time

from bot.launcher import Assistant
from tests.support.clients import Client
from tests.support.database import postgres_admin
from tests.support.ports import free_port
from tests.support.system import MODEL, contact_service_alone


def test_message_is_kept_and_answered_when_the_assistant_comes_back(tmp_path):
    rasa_port = free_port()
    with contact_service_alone(tmp_path, rasa_port) as url:
        status, health, _ = Client(url).call("GET", "/health")
        assert (status, health) == (200, {"status": "ok", "rasa": False})
        customer = Client(url)
        customer.start()
        answer = customer.say("稳盈债券的风险等级是多少")
        assert answer["replies"][0]["sender"] == "system"
        assert "您的消息已经保存" in answer["replies"][0]["text"]
        time.sleep(2.5)  # retries while down must not pile up apologies
        assert [m["sender"] for m in customer.history()] == ["customer", "system"]

        with Assistant(MODEL, rasa_port, free_port(), tmp_path / "logs"):
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and "bot" not in [m["sender"] for m in customer.history()]:
                time.sleep(0.5)
        history = customer.history()
        assert [m["sender"] for m in history] == ["customer", "system", "bot"]
        assert "R2" in history[2]["text"]


def test_too_many_new_sessions_from_one_address_are_refused(tmp_path):
    with contact_service_alone(tmp_path, free_port(), CONTACT_SESSIONS_PER_MINUTE="3") as url:
        visitor = Client(url)
        statuses = [visitor.call("POST", "/api/v1/sessions", {}, auth=False)[0] for _ in range(4)]
        assert statuses == [200, 200, 200, 429]


def test_database_down_refuses_clearly_and_keeps_what_was_stored(tmp_path):
    """PostgreSQL stops taking connections: a new message gets 503 with a clear error (the client
    keeps it and sends it again), and everything stored before is still there afterwards."""
    name = f"evergreen_down_{secrets.token_hex(4)}"
    postgres_admin(f"CREATE DATABASE {name}")
    try:
        with contact_service_alone(tmp_path, free_port(), DATABASE_URL=f"postgresql://postgres@127.0.0.1:5432/{name}") as url:
            customer = Client(url)
            customer.start()
            customer.say("我的手机 13912345678，请回电", client_message_id="before")
            postgres_admin(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
            postgres_admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
            status, answer, headers = customer.call("POST", "/api/v1/messages", {"text": "还在吗", "client_message_id": "during"})
            assert status == 503 and answer["error"]["code"] == "unavailable" and headers["Retry-After"] == "10"
            assert "not lost" in answer["error"]["message"]

            postgres_admin(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
            assert customer.say("还在吗", client_message_id="during")["duplicate"] is False  # the client's resend
            mine = [m for m in customer.history() if m["sender"] == "customer"]
            assert [m["client_message_id"] for m in mine] == ["before", "during"]
            assert mine[0]["text"] == "我的手机 139****5678，请回电"
    finally:
        postgres_admin(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
        postgres_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
