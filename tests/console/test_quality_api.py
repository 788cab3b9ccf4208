"""The supervisors' quality dashboard API (bot/console/quality.py) against the real processes on
loopback (Rasa, the action server, the contact service), on SQLite and PostgreSQL, with the real
clock: a little traffic through the customer API, after which today's figures must count exactly
that traffic. Only supervisors get them; every table comes as CSV, safe to open in a spreadsheet."""

from __future__ import annotations

import codecs
import csv
import io
import json
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from http.client import HTTPMessage
from typing import Dict, Tuple

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from bot.console import i18n
from bot.http.security_headers import PAGE_CSP as CSP
from bot.core.models import Message
from bot.core.staff import DEMO_AGENT, DEMO_SUPERVISOR
from bot.quality.indicators import in_a_form, understood
from bot.service_hours import SHANGHAI
from tests.support.clients import Client, Console


FORMULA_MESSAGE = "=cmd|' /C calc'!A0"  # what a CSV-injection attempt looks like
FORMULA_COMMENT = "=1+1 服务很好"
WEB_QUESTIONS = ["货币宝起购金额是多少", FORMULA_MESSAGE, "再见"]  # a product answer, nonsense, goodbye (→ survey)


def get(console: Console, path: str) -> Tuple[int, HTTPMessage, bytes]:
    """A GET with the console's cookies, whatever the answer's type (headers: any case)."""
    try:
        with console.opener.open(urllib.request.Request(console.base_url + path), timeout=60) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def dashboard(console: Console, query: str = "") -> Dict:
    status, _, body = get(console, "/console/api/quality/dashboard" + query)
    assert status == 200, body
    return json.loads(body)


def error_of(console: Console, path: str) -> Tuple[int, str]:
    status, _, body = get(console, path)
    return status, json.loads(body)["error"]["code"]


@pytest.fixture(scope="module")
def traffic(system):
    """Five messages on the website (three questions, a rating, a comment) and one in the app;
    returns today's date in Beijing."""
    today = datetime.now(SHANGHAI).date()
    web = Client(system.contact_url)
    web.start()
    answers = [web.say(text) for text in WEB_QUESTIONS]
    web.tap(answers[-1], "5")
    web.say(FORMULA_COMMENT)
    app = Client(system.contact_url)
    app.start(channel="app")
    app.say("你好")
    return today


@pytest.fixture(scope="module")
def supervisor(system):
    return Console(system.contact_url).log_in(DEMO_SUPERVISOR)


def test_the_dashboard_counts_exactly_the_traffic_of_the_day(traffic, supervisor, database_url):
    today = traffic.isoformat()
    period = f"?from={today}&to={today}"
    web, app, everything = (dashboard(supervisor, period + "&channel=web"), dashboard(supervisor, period + "&channel=app"),
                            dashboard(supervisor, period))
    assert web["filters"] == {"from": today, "to": today, "channel": "web", "queue": None, "language": None}
    assert (web["accuracy"]["customer_messages"], app["accuracy"]["customer_messages"],
            everything["accuracy"]["customer_messages"]) == (5, 1, 6)

    # What the assistant understood is stored with each message: the dashboard counts those rows.
    engine = create_engine(database_url)
    with Session(engine) as session:
        rows = session.execute(select(Message.intent, Message.confidence, Message.action).where(
            Message.sender == "customer", Message.intent.isnot(None))).all()
        judged = [(intent, confidence) for intent, confidence, action in rows if not in_a_form(action)]
        [formula] = session.execute(select(Message).where(Message.text == FORMULA_MESSAGE)).scalars()
    engine.dispose()
    accuracy = everything["accuracy"]
    assert accuracy["form_answers"] == 1  # the survey comment answered the assistant's question: not judged
    assert accuracy["judged"] == len(judged) == 5 and accuracy["understood"] == sum(understood(*row) for row in judged)
    assert accuracy["fallback"] == sum(intent == "nlu_fallback" for intent, _ in judged)
    assert not understood(formula.intent, formula.confidence), "the nonsense was understood: pick other nonsense"
    assert FORMULA_MESSAGE.lower() in [t["text"] for t in accuracy["top_misunderstood"]]
    assert accuracy["handoffs"] == 0 and accuracy["handoffs_by_reason"] == {}

    assert web["satisfaction"] == {"asked": 1, "rated": 1, "response_rate": 1.0, "average": 5.0,
                                   "distribution": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 1},
                                   "by_trigger": {"agent": None, "bot": 5.0}}
    assert app["satisfaction"]["asked"] == 0 and app["satisfaction"]["average"] is None

    speed = everything["speed"]
    # seconds to a tenth: a reply within 50 ms counts as 0.0
    assert speed["assistant_reply"]["count"] == 6 and 0 <= speed["assistant_reply"]["p50"] <= speed["assistant_reply"]["p95"] < 30
    assert speed["human_wait"] == {"count": 0, "p50": None, "p95": None} and speed["not_claimed"] == 0
    compliance = everything["compliance"]
    assert compliance["product_answers"] >= 1 and compliance["disclosure_rate"] == 1.0
    assert compliance["credential_requests"] == 0
    assert everything["complaints"]["received"] == 0 and everything["complaints"]["overdue_now"] == 0

    # The default period is the last seven days ending today.
    week = dashboard(supervisor, "?channel=web")
    assert (week["filters"]["from"], week["filters"]["to"]) == ((traffic - timedelta(days=6)).isoformat(), today)
    assert week["trends"]["days"][-1] == today and len(week["trends"]["days"]) == 7
    assert week["trends"]["customer_messages"] == [0] * 6 + [5]
    assert week["trends"]["satisfaction"] == [None] * 6 + [5.0]


def test_every_table_comes_as_csv_with_formulas_neutralised(traffic, supervisor):
    today = traffic.isoformat()
    query = f"?from={today}&to={today}&channel=web"
    tables = dashboard(supervisor, query)["tables"]
    assert set(tables) == {"satisfaction_distribution", "satisfaction_comments", "top_misunderstood",
                           "handoffs_by_reason", "complaint_deadlines"}
    for name, table in tables.items():
        status, headers, body = get(supervisor, f"/console/api/quality/{name}.csv{query}")
        assert status == 200, body
        assert headers["Content-Type"] == "text/csv; charset=utf-8"
        assert headers["Content-Disposition"] == f'attachment; filename="quality-{name}-{today}-to-{today}.csv"'
        assert headers["Cache-Control"] == "no-store"
        assert body.startswith(codecs.BOM_UTF8)  # so that Excel reads the Chinese as UTF-8
        rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
        # headed in the supervisor's language (Simplified Chinese unless chosen), as on the page
        assert rows[0] == [i18n.text(f"q.col.{name}.{column}", "zh") for column in table["columns"]], name
        assert len(rows) == len(table["rows"]) + 1, name

    assert supervisor.call("PUT", "/console/api/me/language", {"language": "en"})[0] == 200
    try:
        _, _, body = get(supervisor, f"/console/api/quality/satisfaction_comments.csv{query}")
    finally:
        assert supervisor.call("PUT", "/console/api/me/language", {"language": "zh"})[0] == 200
    [header, comment] = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert header == ["Rated", "Rating", "Channel", "Language", "After", "Comment"]
    row = dict(zip(header, comment))
    assert (row["Rating"], row["Channel"], row["After"], row["Comment"]) == ("5", "web", "bot", "'" + FORMULA_COMMENT)
    _, _, body = get(supervisor, f"/console/api/quality/top_misunderstood.csv{query}")
    texts = [row[0] for row in csv.reader(io.StringIO(body.decode("utf-8-sig")))][1:]
    assert "'" + FORMULA_MESSAGE.lower() in texts
    _, _, body = get(supervisor, f"/console/api/quality/satisfaction_distribution.csv{query}")
    assert body.decode("utf-8") == "\ufeff评分,评分数\r\n1,0\r\n2,0\r\n3,0\r\n4,0\r\n5,1\r\n"

    assert error_of(supervisor, f"/console/api/quality/passwords.csv{query}") == (404, "not_found")


def test_only_supervisors_see_the_figures(system):
    agent = Console(system.contact_url).log_in(DEMO_AGENT)
    assert error_of(agent, "/console/api/quality/dashboard") == (403, "forbidden")
    assert error_of(agent, "/console/api/quality/top_misunderstood.csv") == (403, "forbidden")
    nobody = Console(system.contact_url)
    assert error_of(nobody, "/console/api/quality/dashboard") == (401, "unauthorized")
    assert error_of(nobody, "/console/api/quality/satisfaction_comments.csv") == (401, "unauthorized")

    # The page itself is static (its script asks the API), with the console's security headers.
    for path in ("/console/quality", "/console/quality/"):
        status, headers, body = get(nobody, path)
        assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
        assert headers["Content-Security-Policy"] == CSP and headers["Cache-Control"] == "no-store"
        assert b'<script src="/console/static/quality.js" defer></script>' in body
    status, headers, script = get(nobody, "/console/static/quality.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    assert b"innerHTML" not in script.split(b"*/", 1)[1], "the dashboard never puts markup into the page"


@pytest.mark.parametrize("query, message", [
    ("?from=2026-13-01&to=2026-12-31", "from must be a date as YYYY-MM-DD."),
    ("?from=yesterday", "from must be a date as YYYY-MM-DD."),
    ("?from=2026-11-30&to=20261130", "to must be a date as YYYY-MM-DD."),
    ("?from=2026-11-30&to=2026-11-01", "Invalid period: the end date is before the start date."),
    ("?from=2025-01-01&to=2026-11-30", "Invalid period: a period is at most 366 days."),
    ("?channel=fax", "channel must be one of web, app, telegram, email (or empty for all)."),
    ("?queue=vip", "queue must be one of general, private (or empty for all)."),
    ("?language=fr", "language must be one of zh, en (or empty for all)."),
])
def test_bad_filters_are_refused(supervisor, query, message):
    for path in ("/console/api/quality/dashboard", "/console/api/quality/top_misunderstood.csv"):
        status, _, body = get(supervisor, path + query)
        assert (status, json.loads(body)) == (400, {"error": {"code": "invalid_request", "message": message}})
