"""The people at the other end of the HTTP APIs: a customer's browser or app on the contact API
(``Client``) and an agent's browser on the console API (``Console``), and what they were told."""

from __future__ import annotations

import http.cookiejar
import json
import re
import secrets
import urllib.error
import urllib.request
from typing import Any, Dict, List, Optional, Tuple

from bot.core.staff import demo_password
from bot.references import pattern

REFERENCE = re.compile(pattern("C"))  # a complaint's reference, as the customer is told it


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


class Console:
    """An agent's browser on the console: a cookie jar and the CSRF token from login."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.csrf: Optional[str] = None

    def call(self, method: str, path: str, body: Any = None, csrf: bool = True) -> Tuple[int, Dict[str, Any]]:
        headers = {"Content-Type": "application/json"}
        if csrf and self.csrf:
            headers["X-CSRF-Token"] = self.csrf
        request = urllib.request.Request(self.base_url + path, data=json.dumps(body).encode() if body is not None else None,
                                         method=method, headers=headers)
        try:
            with self.opener.open(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def log_in(self, staff_id: str) -> "Console":
        status, answer = self.call("POST", "/console/api/login", {"id": staff_id, "password": demo_password(staff_id)})
        assert status == 200, answer
        self.csrf = answer["csrf_token"]
        return self

    def waiting(self):
        status, answer = self.call("GET", "/console/api/queue")
        assert status == 200, answer
        return answer["waiting"]


def texts(answer) -> str:
    return "\n".join(reply["text"] for reply in answer["replies"])


def said_to(customer: Client, sender: str):
    return [m["text"] for m in customer.history() if m["sender"] == sender]


def buttons(answer) -> List[str]:
    return [button["title"] for reply in answer["replies"] for button in reply["buttons"]]
