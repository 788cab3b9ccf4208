"""When Rasa or the action server is down, the customer gets an apology, the message stays
stored, and it is answered once the assistant is back."""

import subprocess
import sys
import time

from bot.launcher import Assistant, _wait_until_up
from tests.contact.conftest import MODEL, ROOT, Client, free_port, service_env


def test_message_is_kept_and_answered_when_the_assistant_comes_back(tmp_path):
    rasa_port, actions_port, contact_port = free_port(), free_port(), free_port()
    env = {**service_env(f"sqlite:///{tmp_path / 'contact.db'}"), "CONTACT_HOST": "127.0.0.1",
           "CONTACT_PORT": str(contact_port), "RASA_URL": f"http://127.0.0.1:{rasa_port}", "PYTHONPATH": str(ROOT)}
    log = open(tmp_path / "contact.log", "wb")
    contact = subprocess.Popen([sys.executable, "-m", "bot.contact"], cwd=ROOT, env={**__import__("os").environ, **env}, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_until_up(f"http://127.0.0.1:{contact_port}/health", contact, 60)
        customer = Client(f"http://127.0.0.1:{contact_port}")
        customer.start()
        answer = customer.say("稳盈债券的风险等级是多少")
        assert answer["replies"][0]["sender"] == "system"
        assert "您的消息已经保存" in answer["replies"][0]["text"]

        with Assistant(MODEL, rasa_port, actions_port, tmp_path / "logs"):
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                senders = [m["sender"] for m in customer.history()]
                if "bot" in senders:
                    break
                time.sleep(0.5)
        history = customer.history()
        assert [m["sender"] for m in history] == ["customer", "system", "bot"]
        assert "R2" in history[2]["text"]
    finally:
        contact.terminate()
        contact.wait(timeout=15)
