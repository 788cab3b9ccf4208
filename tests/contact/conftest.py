"""The contact service against real processes: Rasa, the action server and the service itself
on loopback, with SQLite or a real PostgreSQL server behind it."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from channels.web.identity import sign_identity_token
from bot.launcher import Assistant, _wait_until_up
from tests.conftest import postgres_admin

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "current.tar.gz"
CUSTOMER_SECRET = "test-customer-token-secret-of-at-least-32-bytes"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(request, tmp_path_factory):
    """A new, empty database of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'contact.db'}"
        return
    name = f"evergreen_test_{secrets.token_hex(4)}"
    postgres_admin(f"CREATE DATABASE {name}")
    yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    postgres_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def db(database_url):
    """A session on the module's database, for looking at what the services stored."""
    engine = create_engine(database_url)
    with Session(engine) as session:
        yield session
    engine.dispose()


def service_env(database_url: str) -> Dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "CUSTOMER_TOKEN_SECRET": CUSTOMER_SECRET,
        "SESSION_SECRET": "test-session-secret-of-at-least-32-bytes",
        "CONTACT_DEMO": "1",
        "CONTACT_RETRY_INTERVAL": "1",
        "CONTACT_SESSIONS_PER_MINUTE": "1000",
    }


@contextlib.contextmanager
def contact_service_alone(tmp_path: Path, rasa_port: int, **extra_env: Optional[str]):
    """The contact service by itself, its Rasa expected on ``rasa_port``; yields its base URL.
    ``extra_env`` changes the environment (``None`` removes a variable)."""
    port = free_port()
    env = {**os.environ, **service_env(f"sqlite:///{tmp_path / 'contact.db'}"), "CONTACT_HOST": "127.0.0.1",
           "CONTACT_PORT": str(port), "RASA_URL": f"http://127.0.0.1:{rasa_port}", "PYTHONPATH": str(ROOT), **extra_env}
    env = {name: value for name, value in env.items() if value is not None}
    with open(tmp_path / "contact.log", "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "bot.server"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_up(f"http://127.0.0.1:{port}/health", process, 60)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=15)


@pytest.fixture(scope="module")
def system(database_url, tmp_path_factory):
    assistant = Assistant(
        MODEL, free_port(), free_port(), tmp_path_factory.mktemp("logs"),
        contact_port=free_port(), service_env=service_env(database_url),
    )
    with assistant:
        yield assistant


class Client:
    """A customer's browser or app, speaking the contact API over real HTTP."""

    def __init__(self, base_url: str, headers: Optional[Dict[str, str]] = None):
        self.base_url = base_url
        self.headers = headers or {}  # sent with every request (X-Forwarded-For: a client behind a proxy)
        self.session_token: Optional[str] = None
        self.visitor_token: Optional[str] = None

    def call(self, method: str, path: str, body: Any = None, raw: Optional[bytes] = None, auth: bool = True) -> Tuple[int, Dict[str, Any], Dict[str, str]]:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        headers = {"Content-Type": "application/json", **self.headers}
        if auth and self.session_token:
            headers["Authorization"] = f"Bearer {self.session_token}"
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read()), dict(response.headers)
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}"), dict(error.headers)

    def start(self, **body) -> Dict[str, Any]:
        if self.visitor_token and "identity_token" not in body:
            body.setdefault("visitor_token", self.visitor_token)
        status, answer, _ = self.call("POST", "/api/v1/sessions", body, auth=False)
        assert status == 200, answer
        self.session_token = answer["session_token"]
        self.visitor_token = answer.get("visitor_token", self.visitor_token)
        return answer

    def say(self, text: str, client_message_id: Optional[str] = None) -> Dict[str, Any]:
        status, answer, _ = self.call("POST", "/api/v1/messages", {"text": text, "client_message_id": client_message_id or secrets.token_hex(8)})
        assert status == 200, answer
        return answer

    def tap(self, shown: Any, title: Optional[str] = None, payload: Optional[str] = None) -> Dict[str, Any]:
        """Tap a button as the widget does (its message id and index, never its payload): the
        latest one with this ``title`` (or ``payload``) among ``shown`` (an answer of :meth:`say`,
        a list of messages, or one message)."""
        messages = shown["replies"] if isinstance(shown, dict) and "replies" in shown else shown
        messages = [messages] if isinstance(messages, dict) else messages
        for message in reversed(messages):
            for index, button in enumerate(message.get("buttons") or []):
                if button["title"] == title or button["payload"] == payload:
                    status, answer, _ = self.call("POST", "/api/v1/messages", {
                        "button": {"message_id": message["id"], "index": index}, "client_message_id": secrets.token_hex(8)})
                    assert status == 200, answer
                    return answer
        raise AssertionError(f"no button {title or payload!r} in {messages}")

    def history(self, after: int = 0):
        status, answer, _ = self.call("GET", f"/api/v1/messages?after={after}")
        assert status == 200, answer
        return answer["messages"]


@pytest.fixture
def client(system):
    return Client(system.contact_url)


def identity_token(customer_id: str, **kwargs) -> str:
    return sign_identity_token(customer_id, CUSTOMER_SECRET, **kwargs)
