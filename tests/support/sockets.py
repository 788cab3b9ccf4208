"""WebSocket clients as the tests use them: a customer's app socket and a staff member's console
(API and socket, with the session cookie and the page's Origin), and what the consoles receive."""

from __future__ import annotations

import asyncio
import json
import queue
import threading
import time
import urllib.request
from typing import Any, Callable, Dict, List, Optional

import websockets

from bot.console.auth import COOKIE
from tests.support.clients import Client, Console

Frame = Dict[str, Any]


class Socket:
    """A WebSocket client on its own thread and event loop (so the test's blocking HTTP calls
    never stall it); every frame received is kept in order in ``frames``."""

    def __init__(self, url: str, headers: Optional[Dict[str, str]] = None):
        self.frames: "queue.Queue[Frame]" = queue.Queue()
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

        async def connect():
            return await websockets.connect(url, extra_headers=headers or {}, open_timeout=30)

        self.ws = self._run(connect())
        asyncio.run_coroutine_threadsafe(self._read(), self.loop)

    def _run(self, coroutine, timeout: float = 30):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    async def _read(self) -> None:
        async for raw in self.ws:  # ends when the socket closes
            self.frames.put(json.loads(raw))

    def send(self, frame: Frame) -> None:
        self._run(self.ws.send(json.dumps(frame)))

    def until(self, wanted: Callable[[Frame], bool], timeout: float = 60) -> List[Frame]:
        """The frames received up to and including the first one ``wanted``; fails after ``timeout`` s."""
        seen: List[Frame] = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                frame = self.frames.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no such frame within {timeout} s; received {seen}") from None
            seen.append(frame)
            if wanted(frame):
                return seen

    def close(self) -> None:
        self._run(self.ws.close())
        self.loop.call_soon_threadsafe(self.loop.stop)


def ws_url(base_url: str, path: str) -> str:
    return "ws" + base_url[len("http"):] + path


class StaffMember(Console):
    """An agent's or supervisor's browser: the console API (cookie, CSRF token) and the
    console WebSocket, which sends the session cookie and the page's own Origin."""

    def log_in_with(self, staff_id: str, password: str) -> "StaffMember":
        status, answer = self.call("POST", "/console/api/login", {"id": staff_id, "password": password})
        assert status == 200, answer
        self.csrf = answer["csrf_token"]
        return self

    def cookie(self) -> str:
        [jar] = [h.cookiejar for h in self.opener.handlers if isinstance(h, urllib.request.HTTPCookieProcessor)]
        [value] = [c.value for c in jar if c.name == COOKIE]
        return value

    def socket(self, origin: Optional[str] = None) -> Socket:
        return Socket(ws_url(self.base_url, "/console/ws"),
                      {"Cookie": f"{COOKIE}={self.cookie()}", "Origin": origin or self.base_url})

    def agents_online(self) -> int:
        status, answer = self.call("GET", "/console/api/queue")
        assert status == 200, answer
        return answer["agents_online"]


def customer_socket(customer: Client) -> Socket:
    return Socket(ws_url(customer.base_url, f"/api/v1/ws?token={customer.session_token}"))


# what the consoles receive
def queue_changed(conversation: str) -> Callable[[Frame], bool]:
    return lambda f: f["type"] == "queue_changed" and f["conversation_id"] == conversation


def message(conversation: str, text: str) -> Callable[[Frame], bool]:
    return lambda f: f["type"] == "message" and f["conversation_id"] == conversation and f["message"]["text"] == text


def typing(conversation: str, on: bool = True) -> Callable[[Frame], bool]:
    return lambda f: f == {"type": "typing", "conversation_id": conversation, "on": on}
