"""The staff API over real HTTP: the contact service on loopback, on SQLite and on PostgreSQL.

Rasa is not needed (nothing here asks the assistant), so the service runs alone, with staff
accounts made by the ``bot.server.staff`` command and complaints filed through ComplaintDesk.
The overdue job runs every second.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import secrets
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from typing import Any, Dict, Optional, Tuple

import pytest
import websockets

from bot.complaints.desk import ComplaintDesk, ComplaintDraft
from bot.core import staff as staff_accounts
from bot.core.db import make_engine, session_factory
from bot.service_hours import SHANGHAI
from tests.support.clients import Client
from tests.support.ports import free_port
from tests.support.staff import staff_command
from tests.support.system import contact_service_alone


SHANGHAI_OFFSET = "+08:00"


def staff_says(url: str, *args: str) -> str:
    """Run the staff command; its last line (a new account's token)."""
    done = staff_command(url, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def service(database_url, tmp_path_factory):
    """The contact service alone (its Rasa port answers nothing), plus a team with tokens."""
    folder = tmp_path_factory.mktemp("logs")
    with contact_service_alone(folder, free_port(), DATABASE_URL=database_url, CONTACT_OVERDUE_INTERVAL="1") as url:
        tokens = {
            "sue": staff_says(database_url, "add", "sue", "--name", "Sue Supervisor", "--role", "supervisor"),
            "amy": staff_says(database_url, "add", "amy", "--name", "Amy Agent", "--role", "agent"),
            "bob": staff_says(database_url, "add", "bob", "--name", "Bob Agent", "--role", "agent"),
            "old": staff_says(database_url, "add", "old", "--name", "Old Agent", "--role", "agent"),
        }
        staff_says(database_url, "deactivate", "old")
        engine = make_engine(database_url)
        yield {"url": url, "tokens": tokens, "sessions": session_factory(engine), "log": folder / "contact.log"}
        engine.dispose()


def call(service, method: str, path: str, who: Optional[str] = None, body: Any = None,
         token: Optional[str] = None) -> Tuple[int, Any, Any]:
    """A staff request; JSON answers are parsed, others returned as text. Headers: case-insensitive."""
    headers = {"Content-Type": "application/json"}
    token = token or (service["tokens"][who] if who else None)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(service["url"] + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, raw, answer_headers = response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        status, raw, answer_headers = error.code, error.read(), error.headers
    if answer_headers.get("Content-Type", "").startswith("application/json"):
        return status, json.loads(raw or b"{}"), answer_headers
    return status, raw.decode("utf-8"), answer_headers


def change(service, who: str, reference: str, action: str, **body) -> Dict[str, Any]:
    status, answer, _ = call(service, "POST", f"/api/v1/staff/complaints/{reference}/{action}", who, body)
    assert status == 200, answer
    return answer


def file(service, received_at: Optional[datetime] = None, **fields):
    draft = dict(source_key=f"test:{secrets.token_hex(6)}", conversation_id=None, customer_id=None, channel="web",
                 language="zh", category="fees", description="管理费多扣了")
    draft.update(fields)
    return ComplaintDesk(service["sessions"]).file(ComplaintDraft(**draft), received_at or datetime.now(SHANGHAI))


def test_every_route_needs_a_valid_staff_token(service):
    reference = file(service).reference
    customer = Client(service["url"])
    customer.start()
    routes = [("GET", "/api/v1/staff/complaints"), ("GET", f"/api/v1/staff/complaints/{reference}"),
              ("POST", f"/api/v1/staff/complaints/{reference}/notes"),
              ("GET", "/api/v1/staff/reports/complaints.csv?from=2026-11-01&to=2026-11-30"),
              ("GET", "/api/v1/staff/reports/complaints.html?from=2026-11-01&to=2026-11-30")]
    for method, path in routes:
        for token in (None, "sue.not-the-secret", "nobody.x", customer.session_token, service["tokens"]["old"]):
            status, answer, headers = call(service, method, path, token=token, body={"text": "hi"} if method == "POST" else None)
            assert status == 401 and answer["error"]["code"] == "unauthorized", (path, token)
            assert headers["WWW-Authenticate"] == "Bearer"
    status, answer, _ = call(service, "GET", f"/api/v1/staff/complaints/{reference}", "amy")
    assert status == 200 and answer["complaint"]["reference"] == reference


def test_agents_may_not_make_supervisor_changes(service):
    reference = file(service).reference
    for action, body in [("severity", {"severity": "complex"}), ("urgent", {"urgent": True}),
                         ("assign", {"assignee": "bob"}), ("extend", {"days": 5, "reason": "records"})]:
        status, answer, _ = call(service, "POST", f"/api/v1/staff/complaints/{reference}/{action}", "amy", body)
        assert status == 403 and answer["error"]["code"] == "forbidden", action
        change(service, "sue", reference, action, **body)
    status, answer, _ = call(service, "POST", f"/api/v1/staff/complaints/{reference}/assign", "amy", {"assignee": "amy"})
    assert status == 403  # bob has it now
    complaint = change(service, "sue", reference, "assign", assignee="amy")["complaint"]
    assert (complaint["severity"], complaint["urgent"], complaint["assignee"], complaint["regulatory_extension_days"]) == ("complex", True, "amy", 5)


def test_invalid_changes_are_refused_clearly(service):
    reference = file(service).reference
    cases = [
        ("transition", {"to": "closed"}, 409, "conflict"),
        ("transition", {"to": "done"}, 422, "invalid_change"),
        ("extend", {"days": 30, "reason": "x"}, 422, "invalid_change"),
        ("assign", {"assignee": "old"}, 422, "invalid_change"),
        ("notes", {}, 422, "invalid_change"),
        ("archive", {}, 404, "not_found"),
    ]
    for action, body, status, code in cases:
        got, answer, _ = call(service, "POST", f"/api/v1/staff/complaints/{reference}/{action}", "sue", body)
        assert (got, answer["error"]["code"]) == (status, code), (action, answer)
        assert answer["error"]["message"]
    request = urllib.request.Request(f"{service['url']}/api/v1/staff/complaints/{reference}/notes", data=b"{not json",
                                     method="POST", headers={"Authorization": f"Bearer {service['tokens']['sue']}"})
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request, timeout=30)
    assert error.value.code == 400
    status, answer, _ = call(service, "GET", "/api/v1/staff/complaints/C20000101-0001", "sue")
    assert status == 404


def test_full_lifecycle_with_the_customer_told_in_their_conversation(service):
    customer = Client(service["url"])
    conversation_id = customer.start(language="zh")["conversation_id"]
    reference = file(service, conversation_id=conversation_id, description="理财经理态度很差").reference

    change(service, "amy", reference, "assign", assignee="amy")
    acknowledged = change(service, "amy", reference, "transition", to="acknowledged")["complaint"]
    assert acknowledged["state"] == "acknowledged" and acknowledged["first_replied_at"].endswith(SHANGHAI_OFFSET)
    (told,) = customer.history()
    assert told["sender"] == "agent" and told["direction"] == "out"
    assert told["text"].startswith(f"您的投诉 {reference} 已确认受理")

    change(service, "amy", reference, "notes", text="内部：已联系理财经理 Zhang 核实")
    change(service, "amy", reference, "transition", to="investigating")
    status, answer, _ = call(service, "POST", f"/api/v1/staff/complaints/{reference}/transition", "amy", {"to": "resolved"})
    assert status == 422 and "resolution" in answer["error"]["message"]
    change(service, "amy", reference, "transition", to="resolved", resolution="已向您致歉，并更换服务您的理财经理。")
    closed = change(service, "amy", reference, "transition", to="closed")
    status, answer, _ = call(service, "POST", f"/api/v1/staff/complaints/{reference}/transition", "amy", {"to": "closed"})
    assert status == 409 and "closed" in answer["error"]["message"]

    history = customer.history()
    assert [m["sender"] for m in history] == ["agent", "agent"]
    assert history[1]["text"].startswith(f"您的投诉 {reference} 已处理完毕：已向您致歉，并更换服务您的理财经理。")
    assert not any("内部" in m["text"] or "amy" in m["text"] or "Zhang" in m["text"] for m in history)

    assert closed["complaint"]["state"] == "closed"
    kinds = [(e["kind"], e["actor"]) for e in closed["events"]]
    assert kinds == [("received", "assistant"), ("assigned", "staff:amy"), ("acknowledged", "staff:amy"),
                     ("note", "staff:amy"), ("investigating", "staff:amy"), ("resolved", "staff:amy"),
                     ("closed", "staff:amy")]
    assert all(e["at"].endswith(SHANGHAI_OFFSET) for e in closed["events"])
    status, detail, _ = call(service, "GET", f"/api/v1/staff/complaints/{reference.lower()}", "bob")
    assert status == 200 and detail == closed


async def test_the_acknowledgement_is_pushed_live(service):
    customer = Client(service["url"])
    conversation_id = customer.start(language="en")["conversation_id"]
    reference = file(service, conversation_id=conversation_id, language="en", description="Charged twice").reference
    ws_url = service["url"].replace("http", "ws") + f"/api/v1/ws?token={customer.session_token}"
    async with websockets.connect(ws_url) as socket:
        await asyncio.sleep(0.2)  # registered with the hub
        await asyncio.to_thread(change, service, "bob", reference, "transition", to="acknowledged")
        frame = json.loads(await asyncio.wait_for(socket.recv(), 10))
    assert frame["type"] == "message" and frame["message"]["sender"] == "agent"
    assert frame["message"]["text"].startswith(f"Your complaint {reference} has been acknowledged")


def test_queue_filters_order_and_pages(service):
    marker = f"queue{secrets.token_hex(3)}"
    now = datetime.now(SHANGHAI)
    plain = file(service, now - timedelta(hours=2), description=f"{marker} fee question")
    newer = file(service, now - timedelta(hours=1), description=f"{marker} app crash", category="product_service")
    urgent = file(service, now - timedelta(minutes=30), description=f"{marker} 被盗刷", urgent=True)
    old = file(service, now - timedelta(days=40), description=f"{marker} old one", category="contract_legal")
    done = file(service, now - timedelta(hours=3), description=f"{marker} done")
    change(service, "sue", done.reference, "transition", to="investigating")
    change(service, "sue", done.reference, "transition", to="resolved", resolution="Answered.")
    change(service, "sue", plain.reference, "assign", assignee="bob")

    def references(query: str):
        status, answer, _ = call(service, "GET", f"/api/v1/staff/complaints?q={marker}{query}", "amy")
        assert status == 200, answer
        return [c["reference"] for c in answer["complaints"]], answer["total"]

    # Open first; urgent first; then by the next deadline (the old one is long overdue).
    assert references("") == ([urgent.reference, old.reference, plain.reference, newer.reference, done.reference], 5)
    assert references("&state=open")[1] == 4
    assert references("&state=resolved") == ([done.reference], 1)
    assert references("&category=product_service") == ([newer.reference], 1)
    assert references("&urgent=1") == ([urgent.reference], 1)
    assert references("&urgent=0")[1] == 4
    assert references("&assignee=bob") == ([plain.reference], 1)
    assert references("&assignee=none")[1] == 4
    assert references("&limit=2&offset=2") == ([plain.reference, newer.reference], 5)
    deadline = time.monotonic() + 20
    while references("&overdue=1")[0] != [old.reference] and time.monotonic() < deadline:
        time.sleep(0.5)
    assert references("&overdue=1") == ([old.reference], 1)
    for bad in ("&state=lost", "&category=x", "&urgent=maybe", "&limit=0", "&limit=201", "&offset=-1", "&limit=a"):
        status, answer, _ = call(service, "GET", f"/api/v1/staff/complaints?q={marker}{bad}", "amy")
        assert status == 400 and answer["error"]["code"] == "invalid_request", bad
    status, answer, _ = call(service, "GET", f"/api/v1/staff/complaints?q={marker}&urgent=1", "amy")
    shown = answer["complaints"][0]
    assert shown["next_due"] == shown["first_reply_due"] and shown["received_at"].endswith(SHANGHAI_OFFSET)


def test_the_overdue_job_escalates_each_deadline_once(service):
    late = file(service, datetime.now(SHANGHAI) - timedelta(days=30), description="overdue job")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        status, detail, _ = call(service, "GET", f"/api/v1/staff/complaints/{late.reference}", "sue")
        if detail["complaint"]["overdue"] == ["first_reply", "resolution", "regulatory"]:
            break
        time.sleep(0.5)
    time.sleep(2.5)  # two or three more runs of the job
    status, detail, _ = call(service, "GET", f"/api/v1/staff/complaints/{late.reference}", "sue")
    escalations = [e for e in detail["events"] if e["kind"] == "escalated"]
    assert [(e["actor"], e["detail"]["deadline"]) for e in escalations] == [
        ("system", "first_reply"), ("system", "resolution"), ("system", "regulatory")]
    assert f"complaint {late.reference} missed its regulatory deadline" in service["log"].read_text()


def test_reports_as_csv_and_html(service):
    received = datetime(2025, 6, 3, 10, 0, tzinfo=SHANGHAI)  # a period no other test files into
    fees = file(service, received, product="EG-MM01")
    file(service, received + timedelta(days=1), product="EG-MM01", channel="app")
    file(service, received + timedelta(days=2), category="contract_legal", severity="complex", urgent=True)
    file(service, received + timedelta(days=5))  # 2025-06-08: after the period
    change(service, "sue", fees.reference, "transition", to="acknowledged")  # long after its deadline

    status, body, headers = call(service, "GET", "/api/v1/staff/reports/complaints.csv?from=2025-06-01&to=2025-06-07", "amy")
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    assert 'filename="complaints-2025-06-01-2025-06-07.csv"' in headers["Content-Disposition"]
    assert body.startswith("\ufeff")  # the byte-order mark: Excel then reads it as UTF-8
    rows = list(csv.DictReader(io.StringIO(body[1:])))
    assert len(rows) == 3 and rows[0]["reference"] == fees.reference
    assert [r["category"] for r in rows] == ["fees", "fees", "contract_legal"]
    assert [r["channel"] for r in rows] == ["web", "app", "web"]
    assert [r["urgent"] for r in rows] == ["no", "no", "yes"]
    assert [r["first_reply_met"] for r in rows] == ["no", "no", "no"]
    assert rows[0]["received_at"] == "2025-06-03T10:00:00+08:00"
    assert "description" not in rows[0] and "管理费多扣了" not in body

    status, page, headers = call(service, "GET", "/api/v1/staff/reports/complaints.html?from=2025-06-01&to=2025-06-07", "amy")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert "<p>3 complaints," in page and page.count("<svg") == 6 and "<script" not in page
    assert "<td>first reply</td><td>0</td><td>3</td><td>0</td><td>0%</td>" in page
    assert "<tr><td>Fees and charges · 费用及收费标准</td><td>EG-MM01</td><td>2</td></tr>" in page

    for query in ("", "?from=2025-06-07&to=2025-06-01", "?from=2025-01-01&to=2026-06-01", "?from=june&to=july"):
        status, answer, _ = call(service, "GET", f"/api/v1/staff/reports/complaints.csv{query}", "amy")
        assert status == 400 and answer["error"]["code"] == "invalid_request", query


def test_the_demo_supervisor_signs_in_with_the_demo_token(service):
    token = staff_accounts.demo_token()
    assert token.startswith("demo-supervisor.")
    status, answer, _ = call(service, "GET", "/api/v1/staff/complaints?limit=1", token=token)
    assert status == 200 and answer["limit"] == 1
    reference = file(service).reference
    status, answer, _ = call(service, "POST", f"/api/v1/staff/complaints/{reference}/urgent", token=token, body={"urgent": True})
    assert status == 200 and answer["events"][-1]["actor"] == "staff:demo-supervisor"
