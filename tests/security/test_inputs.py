"""Every bad input is a 4xx with the API's error body, never a 500 or a dropped connection (issue
#14, item 5), sent as an attacker sends it: numbers beyond 64 bits, JSON nested 20,000 deep, NaN,
lone surrogates and NUL, wrong JSON types, oversized and malformed bodies, on the customer API and
WebSocket, the staff API, the console API and WebSocket, email attachments, the Telegram webhook,
/metrics and /health. Against the real contact service (with Rasa down, so messages stay pending)
on SQLite and PostgreSQL; text a person wrote is stored the same way on both."""

from __future__ import annotations

import asyncio
import http.client
import json
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any, Dict, Optional, Tuple
from urllib.parse import urlsplit

import pytest
import websockets
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.complaints.desk import ComplaintDesk, ComplaintDraft
from bot.complaints.models import ComplaintEvent
from bot.core.audit import AuditEntry
from bot.core.db import session_factory
from bot.core.models import Message
from bot.core.staff import DEMO_AGENT, DEMO_SUPERVISOR, demo_password, demo_token
from bot.handoff.desk import HandoffDesk, HandoffRequest
from bot.service_hours import SHANGHAI
from channels.telegram.models import TelegramUpdate
from tests.support.clients import Client
from tests.support.ports import free_port
from tests.support.system import contact_service_alone
from tests.support.telegram import SECRET, WEBHOOK, telegram_settings, TelegramUser

BEYOND_64_BITS = "99999999999999999999999"


DEEP = b"[" * 20000 + b"]" * 20000
DEEP_IN_A_FIELD = b'{"text": ' + b"[" * 20000 + b"]" * 20000 + b', "client_message_id": "d1"}'
# A string with a NUL, a bell, a C1 control, a lone surrogate, a tab and a Windows line end, as JSON
# sends it, and as it is stored on both databases.
HOSTILE_TEXT = '你好\u0000 world\u0007\u0085 \ud800!\tok\r\nbye'
STORED_TEXT = '你好\ufffd world\ufffd\ufffd \ufffd!\tok\r\nbye'
MAIL = {"EMAIL_SMTP_HOST": "127.0.0.1", "EMAIL_SMTP_PORT": "9", "EMAIL_SMTP_TLS": "none",  # nothing is ever mailed
        "EMAIL_FROM": "service@evergreen.example"}


class Service:
    """The running contact service: plain HTTP requests with any bytes, and its log."""

    def __init__(self, url: str, log: Path):
        self.url, self.log = url, log
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port

    def call(self, method: str, path: str, body: Any = None, raw: Optional[bytes] = None,
             headers: Optional[Dict[str, str]] = None) -> Tuple[int, Any]:
        """(status, the JSON answer, or the body of any other kind); a dropped connection fails the test."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            connection.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
            response = connection.getresponse()
            answer = response.read()
        finally:
            connection.close()
        is_json = (response.getheader("Content-Type") or "").startswith("application/json")
        return response.status, json.loads(answer) if is_json else answer


@pytest.fixture(scope="module")
def service(database_url, bot_api, tmp_path_factory):
    """The contact service with the Telegram channel and the email channel's routes on, Rasa down."""
    folder = tmp_path_factory.mktemp("inputs")
    with contact_service_alone(folder, free_port(), DATABASE_URL=database_url, **telegram_settings(bot_api), **MAIL) as url:
        yield Service(url, folder / "contact.log")


def refused(status: int, answer: Any, expected: int = 400, code: str = "invalid_request", naming: str = "") -> None:
    assert status == expected, (status, answer)
    assert set(answer) == {"error"} and set(answer["error"]) == {"code", "message"}, answer
    assert answer["error"]["code"] == code and naming in answer["error"]["message"], answer


def customer(service: Service) -> Tuple[Client, Dict[str, str]]:
    client = Client(service.url)
    client.start()
    return client, {"Authorization": f"Bearer {client.session_token}"}


def staff_headers() -> Dict[str, str]:
    return {"Authorization": f"Bearer {demo_token()}"}


def console_login(service: Service, staff_id: str = DEMO_AGENT) -> Dict[str, str]:
    """A demo account logged in to the console: the cookie and CSRF headers of its requests."""
    connection = http.client.HTTPConnection(service.host, service.port, timeout=30)
    connection.request("POST", "/console/api/login", json.dumps({"id": staff_id, "password": demo_password(staff_id)}),
                       {"Content-Type": "application/json"})
    response = connection.getresponse()
    answer = json.loads(response.read())
    cookie = response.getheader("Set-Cookie").split(";", 1)[0]
    connection.close()
    return {"Cookie": cookie, "X-CSRF-Token": answer["csrf_token"]}


def stored_texts(database, conversation_id: str):
    with Session(database) as session:
        query = select(Message.text).where(Message.conversation_id == conversation_id, Message.direction == "in")
        return list(session.execute(query.order_by(Message.id)).scalars())


def test_numbers_beyond_64_bits_or_out_of_range_are_refused_naming_the_parameter(service):
    """Today's main: after, offset and attachment ids beyond 64 bits were a 500 (SQLite's OverflowError)."""
    _, headers = customer(service)
    for after in (BEYOND_64_BITS, "9223372036854775808", "-1", "1e3", "0x10", "1.5", "%201", "1_0", "%D9%A1"):
        refused(*service.call("GET", f"/api/v1/messages?after={after}", headers=headers), naming="after")
    assert service.call("GET", "/api/v1/messages?after=9223372036854775807", headers=headers) == (200, {"messages": []})

    for query, name in ((f"offset={BEYOND_64_BITS}", "offset"), (f"limit={BEYOND_64_BITS}", "limit"), ("offset=-1", "offset")):
        refused(*service.call("GET", f"/api/v1/staff/complaints?{query}", headers=staff_headers()), naming=name)
    refused(*service.call("POST", f"/api/v1/staff/email/outbox/{BEYOND_64_BITS}/requeue", headers=staff_headers()),
            naming="outbox_id")
    refused(*service.call("POST", "/api/v1/staff/email/outbox/-5/requeue", headers=staff_headers()), naming="outbox_id")

    agent = console_login(service)
    refused(*service.call("GET", f"/console/api/email-attachments/{BEYOND_64_BITS}", headers=agent), naming="attachment_id")
    refused(*service.call("GET", "/console/api/email-attachments/0", headers=agent), naming="attachment_id")
    refused(*service.call("POST", f"/console/api/handoffs/{BEYOND_64_BITS}/claim", headers=agent), naming="handoff_id")
    refused(*service.call("POST", "/console/api/handoffs/abc/claim", headers=agent), naming="handoff_id")
    supervisor = console_login(service, DEMO_SUPERVISOR)
    refused(*service.call("POST", f"/console/api/quality/review/{BEYOND_64_BITS}/label", {"intent": "greet"}, headers=supervisor),
            naming="message_id")
    refused(*service.call("GET", f"/console/api/quality/warnings?days={BEYOND_64_BITS}", headers=supervisor), naming="days")


def test_json_nested_deep_nan_and_huge_numbers_are_refused_on_every_route(service):
    """Today's main: 20,000 nested brackets were a RecursionError (500)."""
    _, headers = customer(service)
    agent = console_login(service)
    routes = [("/api/v1/sessions", {}), ("/api/v1/messages", headers),
              ("/api/v1/staff/complaints/C20260101-000000/notes", staff_headers()), ("/console/api/login", {}),
              ("/console/api/handoffs/1/transfer", agent), ("/console/api/conversations/c1/messages", agent),
              ("/console/api/conversations/c1/notes", agent), ("/console/api/conversations/c1/typing", agent)]
    bodies = [DEEP, DEEP_IN_A_FIELD, b'{"text": NaN, "client_message_id": "n1"}', b'{"text": "x", "n": Infinity}',
              b'{"text": "x", "n": 1e400}', b'{"text": "x", "n": ' + BEYOND_64_BITS.encode() + b"}",
              b'{"text": "x", "n": ' + b"7" * 5000 + b"}", b"\xff\xfe{}", b"{not json", b'"a string"', b"[1, 2]", b"17", b"null"]
    for path, route_headers in routes:
        for raw in bodies:
            refused(*service.call("POST", path, raw=raw, headers=route_headers))


def test_control_characters_and_lone_surrogates_are_stored_as_replacement_characters(service, database):
    """Today's main: a lone surrogate failed to store on both databases (500), a NUL on PostgreSQL."""
    client, headers = customer(service)
    client.say("第一条消息", client_message_id="kept")
    for _ in range(2):  # the resend finds the message by its cleaned id
        status, answer = service.call("POST", "/api/v1/messages", {"text": HOSTILE_TEXT, "client_message_id": HOSTILE_TEXT[:8]},
                                      headers=headers)
        assert status == 200 and answer["message"]["text"] == STORED_TEXT, answer
        assert answer["message"]["client_message_id"] == STORED_TEXT[:8]
    assert answer["duplicate"] is True
    # a member name or a value the service does not read is cleaned too, and changes nothing
    status, answer = service.call("POST", "/api/v1/messages", {"text": "hi", "client_message_id": "c2", "\u0000\ud800": ["\u0000"]},
                                  headers=headers)
    assert status == 200 and answer["message"]["text"] == "hi"
    # an id or token with such characters is another id: it names nobody
    refused(*service.call("POST", "/api/v1/sessions", {"identity_token": "x\u0000"}), 401, "invalid_identity")
    refused(*service.call("POST", "/api/v1/sessions", {"language": "zh\u0000"}), naming="language")
    assert service.call("POST", "/api/v1/sessions", {"visitor_token": "\ud800"})[0] == 200  # a new visitor
    refused(*service.call("POST", "/console/api/login", {"id": f"{DEMO_AGENT}\u0000", "password": demo_password(DEMO_AGENT)}),
            401, "login_failed")
    refused(*service.call("POST", "/console/api/login", {"id": DEMO_AGENT, "password": "\ud800"}), 401, "login_failed")
    # a query string is names and numbers: a control character there is refused
    refused(*service.call("GET", "/demo/identity-token?customer_id=demo-private%00"), naming="customer_id")
    refused(*service.call("GET", "/api/v1/staff/complaints?q=%00", headers=staff_headers()), naming="q")
    # nothing stored before is lost, and the text is the same on either database
    assert stored_texts(database, client.start()["conversation_id"]) == ["第一条消息", STORED_TEXT, "hi"]


def test_console_replies_notes_and_staff_notes_are_stored_cleaned(service, database):
    conversation_id = Client(service.url).start()["conversation_id"]
    sessions = session_factory(database)
    handoff = HandoffDesk(sessions).request(HandoffRequest(conversation_id, "customer_request", "standard", "zh"),
                                            datetime.now(SHANGHAI))
    agent = console_login(service)
    assert service.call("POST", f"/console/api/handoffs/{handoff.id}/claim", headers=agent)[0] == 200
    status, answer = service.call("POST", f"/console/api/conversations/{conversation_id}/messages", {"text": HOSTILE_TEXT},
                                  headers=agent)
    assert status == 200 and answer["message"]["text"] == STORED_TEXT, answer
    status, answer = service.call("POST", f"/console/api/conversations/{conversation_id}/notes", {"text": HOSTILE_TEXT},
                                  headers=agent)
    assert status == 200 and answer["notes"][-1]["text"] == STORED_TEXT, answer
    status, answer = service.call("POST", f"/console/api/handoffs/{handoff.id}/transfer", {"queue": "general\u0000"}, headers=agent)
    assert 400 <= status < 500 and set(answer["error"]) == {"code", "message"}, answer  # no such queue

    complaint = ComplaintDesk(sessions).file(ComplaintDraft(
        source_key=f"inputs:{secrets.token_hex(4)}", conversation_id=None, customer_id=None, channel="web", language="zh",
        category="fees", description="管理费多扣了"), datetime.now(SHANGHAI))
    path = f"/api/v1/staff/complaints/{complaint.reference}"
    assert service.call("POST", path + "/notes", {"text": HOSTILE_TEXT}, headers=staff_headers())[0] == 200
    status, answer = service.call("POST", path + "/assign", {"assignee": "demo-agent\u0000"}, headers=staff_headers())
    assert 400 <= status < 500 and set(answer["error"]) == {"code", "message"}, answer  # nobody of that id
    with Session(database) as session:
        notes = session.execute(select(ComplaintEvent.detail).where(ComplaintEvent.complaint_id == complaint.id,
                                                                     ComplaintEvent.kind == "note")).scalars().all()
        assert [note["text"] for note in notes] == [STORED_TEXT]
        audited = session.execute(select(AuditEntry.detail).where(AuditEntry.action == "note",
                                                                  AuditEntry.target == conversation_id)).scalars().all()
        assert [entry["text"] for entry in audited] == [STORED_TEXT]


async def test_the_customer_websocket_answers_bad_frames_with_an_error_and_stays_open(service, database):
    """Today's main: a frame nested 20,000 deep dropped the socket."""
    client, _ = customer(service)
    url = service.url.replace("http://", "ws://") + f"/api/v1/ws?token={client.session_token}"
    frames = [DEEP.decode(), DEEP_IN_A_FIELD.decode(), '{"type": "message", "text": NaN, "client_message_id": "n"}',
              "not json", '"a string"', "[1]", "null", b"\xff\xfe", json.dumps({"type": "typing", "on": 1}),
              json.dumps({"type": "message", "text": "hi"})]
    async with websockets.connect(url) as socket:
        for frame in frames:
            await socket.send(frame)
            answer = json.loads(await asyncio.wait_for(socket.recv(), 10))
            assert answer["type"] == "error" and answer["error"]["code"] == "invalid_request", (frame[:40], answer)
        await socket.send(json.dumps({"type": "message", "text": HOSTILE_TEXT, "client_message_id": "w1"}))
        while (echo := json.loads(await asyncio.wait_for(socket.recv(), 10)))["type"] != "message":
            pass
        assert echo["message"]["text"] == STORED_TEXT
        # a frame over the 64 KB limit is the WebSocket protocol's own refusal: close code 1009
        await socket.send("x" * (64 * 1024 + 1))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(socket.recv(), 10)
        assert closed.value.code == 1009
    assert stored_texts(database, client.start()["conversation_id"]) == [STORED_TEXT]


async def test_the_console_websocket_ignores_what_a_console_sends(service):
    url = service.url.replace("http://", "ws://") + "/console/ws"
    async with websockets.connect(url, extra_headers={"Cookie": console_login(service)["Cookie"]}) as socket:
        for frame in (DEEP.decode(), b"\xff\xfe", "null"):
            await socket.send(frame)
        await asyncio.wait_for(await socket.ping(), 10)  # still open and answering


def test_the_telegram_webhook_acknowledges_updates_it_refuses_and_logs_them(service, database, bot_api):
    """Today's main: these were 400s or a 500 (20,000 brackets), which Telegram delivers again and again."""
    user = TelegramUser(service.url, bot_api, 610000301)
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    unreadable = [DEEP, b"{not json", b"[1, 2]", b'{"message": {}}', b'{"update_id": "5"}', b'{"update_id": true}',
                  b'{"update_id": -1}', b'{"update_id": 1e400}', b'{"update_id": NaN}', b"\xff\xfe",
                  b'{"update_id": ' + BEYOND_64_BITS.encode() + b"}", b'{"note": "call me on 13912345678", "update_id": 1.5}']
    for raw in unreadable:
        assert service.call("POST", WEBHOOK, raw=raw, headers=headers) == (200, {"ok": True}), raw[:40]
    refused(*service.call("POST", WEBHOOK, raw=DEEP, headers={"X-Telegram-Bot-Api-Secret-Token": "forged"}), 403, "forbidden")
    log = service.log.read_text(errors="replace")
    assert log.count("telegram update refused") == len(unreadable)
    assert "139****5678" in log and "13912345678" not in log  # the excerpt is masked
    assert "[" * 301 not in log  # and bounded

    # a real update with a user id beyond 64 bits is refused too; a NUL and a lone surrogate are stored
    # as U+FFFD; an update larger than the customer API's 64 KB (a long text with its entities) is taken
    too_big_an_id = user.message(text="hi")
    too_big_an_id["message"]["from"] = {**user.user, "id": 2 ** 64}
    assert service.call("POST", WEBHOOK, too_big_an_id, headers=headers) == (200, {"ok": True})
    hostile = user.message(text=HOSTILE_TEXT)
    long_text = "长" * 4000
    formatted = user.message(text=long_text, entities=[{"type": "bold", "offset": i, "length": 1} for i in range(0, 4000, 2)])
    for update in (hostile, formatted):
        assert service.call("POST", WEBHOOK, update, headers=headers) == (200, {"ok": True})
    with Session(database) as session:
        assert session.get(TelegramUpdate, too_big_an_id["update_id"]) is None
    assert stored_texts(database, f"tg-{user.id}") == [STORED_TEXT, long_text]


def test_odd_requests_get_a_4xx_with_the_error_body_or_a_correct_answer(service):
    _, headers = customer(service)
    refused(*service.call("GET", "/no/such/route"), 404, "not_found")
    refused(*service.call("PUT", "/api/v1/messages", headers=headers), 405, "method_not_allowed")
    refused(*service.call("POST", "/api/v1/messages", raw=b'{"text": "' + b"a" * (64 * 1024) + b'"}', headers=headers),
            413, "too_large")
    refused(*service.call("POST", "/api/v1/messages", raw=b"", headers=headers))
    # not a WebSocket handshake, or a broken one: today's main answered each with a bare 500
    upgrade = {"Upgrade": "websocket", "Connection": "Upgrade"}
    for path in ("/api/v1/ws?token=x", "/console/ws"):
        refused(*service.call("GET", path), 426, "upgrade_required")
        refused(*service.call("GET", path, headers=upgrade), 400, naming="Sec-WebSocket-Key")
        refused(*service.call("GET", path, headers={**upgrade, "Sec-WebSocket-Key": "abc", "Sec-WebSocket-Version": "13"}),
                400, naming="Sec-WebSocket-Key")
    for body in ({"text": None, "client_message_id": "t1"}, {"text": True, "client_message_id": "t2"},
                 {"text": 5, "client_message_id": "t3"}, {"text": ["hi"], "client_message_id": "t4"},
                 {"text": "hi", "client_message_id": 5}, {"text": "hi", "client_message_id": None}, {}):
        refused(*service.call("POST", "/api/v1/messages", body, headers=headers))
    refused(*service.call("POST", "/api/v1/messages", {"text": "长" * 2001, "client_message_id": "t5"}, headers=headers),
            413, "message_too_long")
    assert service.call("GET", "/api/v1/messages?unknown=1&after=0", headers=headers)[0] == 200
    for body, name in (({"language": True}, "language"), ({"channel": ["app"]}, "channel"), ({"identity_token": 5}, "identity_token"),
                       ({"visitor_token": {}}, "visitor_token")):
        refused(*service.call("POST", "/api/v1/sessions", body), naming=name)
    assert service.call("POST", "/api/v1/sessions", {"language": None, "identity_token": None, "unknown": 1})[0] == 200
    refused(*service.call("GET", "/health?x=%00y"), naming="x")
    assert service.call("GET", "/health?x=1")[0] == 200
    assert service.call("GET", "/metrics?after=" + BEYOND_64_BITS)[0] == 200
    assert service.call("GET", "/api/v1/openapi.yaml?x=1")[0] == 200
