"""The contact service on its own: when Rasa or the action server is down the customer gets an
apology, the message stays stored, and it is answered once the assistant is back; floods of
new sessions from one address are refused."""

import time

from bot.launcher import Assistant
from tests.contact.conftest import MODEL, Client, contact_service_alone, free_port


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
