"""A stand-in for the Telegram Bot API on a loopback port: answers ``/bot<token>/<method>`` the
way api.telegram.org does (``{"ok": true, "result": ...}``) and records every call, so tests
can check what python-telegram-bot sent (method, chat, text, keyboard). It can answer the next
calls with 429 (retry after 1 s), 502 or 403, and serve getUpdates from a queue (polling mode).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple
from urllib.parse import parse_qs

BOT_USER = {"id": 987654321, "is_bot": True, "first_name": "Evergreen Wealth", "username": "EvergreenTestBot",
            "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}
# python-telegram-bot posts form fields, JSON-encoding everything that is not a string
STRING_FIELDS = {"text", "url", "secret_token", "callback_query_id", "action"}
ERRORS = {
    429: {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 1", "parameters": {"retry_after": 1}},
    502: {"ok": False, "error_code": 502, "description": "Bad Gateway"},
    403: {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"},
    400: {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"},
}


@dataclass
class Call:
    method: str
    params: Dict[str, Any]
    status: int
    at: float

    @property
    def ok(self) -> bool:
        return self.status == 200


class BotApi:
    def __init__(self, token: str):
        self.token = token
        self.calls: List[Call] = []
        self.lock = threading.Lock()
        self.failures: Deque[Tuple[Optional[str], int, Optional[int]]] = deque()  # (method, status, chat id)
        self.updates: Deque[Dict[str, Any]] = deque()
        self.webhook_url = ""
        self._message_ids = itertools.count(1)
        self.server: Optional[ThreadingHTTPServer] = None

    # Control

    def start(self) -> "BotApi":
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                status, body = api.handle(self.path, self.headers.get("Content-Type", ""), self.rfile.read(length))
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the caller gave up (a poller stopped during a long poll)

            do_GET = do_POST  # noqa: N815

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    @property
    def base_url(self) -> str:
        """TELEGRAM_API_URL: python-telegram-bot appends the token and ``/<method>``."""
        return f"http://127.0.0.1:{self.server.server_address[1]}/bot"

    def fail_next(self, count: int, status: int = 429, method: Optional[str] = "sendMessage", chat_id: Optional[int] = None) -> None:
        """Answer the next ``count`` calls of ``method`` (any method if None), to ``chat_id`` (any
        chat if None), with an error."""
        with self.lock:
            self.failures.extend([(method, status, chat_id)] * count)

    def clear_failures(self) -> None:
        with self.lock:
            self.failures.clear()

    def queue_update(self, update: Dict[str, Any]) -> None:
        with self.lock:
            self.updates.append(update)

    # What was called

    def calls_to(self, method: str, chat_id: Optional[int] = None, ok_only: bool = True) -> List[Call]:
        with self.lock:
            return [c for c in self.calls if c.method == method and (not ok_only or c.ok)
                    and (chat_id is None or c.params.get("chat_id") == chat_id)]

    def texts_to(self, chat_id: int) -> List[str]:
        return [c.params["text"] for c in self.calls_to("sendMessage", chat_id)]

    def wait_for(self, condition: Callable[[], Any], timeout: float = 45, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = condition()
            if result:
                return result
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; calls: {[(c.method, c.status, c.params.get('text', '')[:40]) for c in self.calls][-15:]}")

    # Answering

    def handle(self, path: str, content_type: str, raw: bytes) -> Tuple[int, Dict[str, Any]]:
        prefix = f"/bot{self.token}/"
        if not path.startswith(prefix):
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        method = path[len(prefix):].split("?")[0]
        params = self._params(content_type, raw)
        with self.lock:
            failure = next((f for f in self.failures
                            if f[0] in (None, method) and f[2] in (None, params.get("chat_id"))), None)
            if failure is not None:
                self.failures.remove(failure)
                self.calls.append(Call(method, params, failure[1], time.monotonic()))
                return failure[1], ERRORS[failure[1]]
        if method == "getUpdates":
            return 200, {"ok": True, "result": self._get_updates(params)}
        result = self._result(method, params)
        status = 200 if result is not None else 404
        with self.lock:
            self.calls.append(Call(method, params, status, time.monotonic()))
        if result is None:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
        return 200, {"ok": True, "result": result}

    @staticmethod
    def _params(content_type: str, raw: bytes) -> Dict[str, Any]:
        if not raw:
            return {}
        if "json" in content_type:
            return json.loads(raw)
        params: Dict[str, Any] = {}
        for key, values in parse_qs(raw.decode(), keep_blank_values=True).items():
            value = values[0]
            if key not in STRING_FIELDS:
                try:
                    value = json.loads(value)
                except ValueError:
                    pass
            params[key] = value
        return params

    def _result(self, method: str, params: Dict[str, Any]) -> Any:
        if method == "getMe":
            return BOT_USER
        if method == "sendMessage":
            message = {"message_id": next(self._message_ids), "date": int(time.time()), "from": BOT_USER,
                       "chat": {"id": params["chat_id"], "type": "private"}, "text": params.get("text", "")}
            if params.get("reply_markup"):
                message["reply_markup"] = params["reply_markup"]
            return message
        if method == "setWebhook":
            self.webhook_url = params.get("url", "")
            return True
        if method == "deleteWebhook":
            self.webhook_url = ""
            return True
        if method == "getWebhookInfo":
            return {"url": self.webhook_url, "has_custom_certificate": False, "pending_update_count": 0}
        if method in ("answerCallbackQuery", "sendChatAction"):
            return True
        return None

    def _get_updates(self, params: Dict[str, Any]) -> List[Dict[str, Any]]:
        offset = params.get("offset") or 0
        with self.lock:
            self.calls.append(Call("getUpdates", params, 200, time.monotonic()))
            while self.updates and self.updates[0]["update_id"] < offset:
                self.updates.popleft()  # confirmed by the offset
            ready = list(self.updates)
        if not ready:
            time.sleep(min(float(params.get("timeout") or 0), 0.3))  # a short long-poll
        return ready
