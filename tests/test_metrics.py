"""``/metrics`` of the contact service and of the action server, read as Prometheus reads it
(``prometheus_client.parser``), against the real processes on loopback with SQLite and
PostgreSQL: the counts must be what a dashboard user would expect after the traffic made here."""

from __future__ import annotations

import secrets
import urllib.error
import urllib.request
from datetime import datetime
from typing import Dict, FrozenSet, Optional, Tuple

import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from bot.bookings.models import Callback
from bot.complaints.models import Complaint
from bot.complaints.overdue import DEADLINES  # (its imports also map personal_numbers, which complaints refer to)
from bot.core.models import Conversation, Message
from bot.core.staff import DEMO_AGENT
from bot.service_hours import SHANGHAI
from channels.email.models import STATES as OUTBOX_STATES, EmailOutbox, EmailTicket
from channels.telegram.models import TelegramChat
from tests.support.clients import Client, Console
from tests.support.ports import free_port
from tests.support.system import IN_HOURS, contact_service_alone, identity_token


pytestmark = pytest.mark.clock(IN_HOURS)  # agents on duty


Samples = Dict[Tuple[str, FrozenSet[Tuple[str, str]]], float]
PRODUCT_QUESTION = "货币宝起购金额是多少"


def get_metrics(base_url: str, headers: Optional[Dict[str, str]] = None) -> Tuple[int, str]:
    request = urllib.request.Request(base_url + "/metrics", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.headers["Content-Type"] == CONTENT_TYPE_LATEST
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def scrape(base_url: str, headers: Optional[Dict[str, str]] = None) -> Samples:
    status, text = get_metrics(base_url, headers)
    assert status == 200, text
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(samples: Samples, name: str, **labels: str) -> float:
    """A sample's value; a series not shown yet counts 0, as in a dashboard's ``or vector(0)``."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_the_dashboard_counts_messages_replies_queues_and_actions(system):
    before, actions_before = scrape(system.contact_url), scrape(system.actions_url)

    visitor = Client(system.contact_url)
    visitor.start()
    visitor.say(PRODUCT_QUESTION)
    visitor.say("长青" + PRODUCT_QUESTION)
    app_user = Client(system.contact_url)
    app_user.start(channel="app")
    app_user.say(PRODUCT_QUESTION)
    premier = Client(system.contact_url)
    conversation_id = premier.start(identity_token=identity_token("demo-premier"))["conversation_id"]
    premier.say("我要转人工")

    after, actions_after = scrape(system.contact_url), scrape(system.actions_url)

    def added(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert value(after, "evergreen_database_up") == 1
    assert added("evergreen_messages_total", channel="web", direction="in", sender="customer") == 3
    assert added("evergreen_messages_total", channel="app", direction="in", sender="customer") == 1
    for sender in ("bot", "system"):  # what the customers' own histories show
        shown_on_web = [m for client in (visitor, premier) for m in client.history() if m["sender"] == sender]
        assert added("evergreen_messages_total", channel="web", direction="out", sender=sender) == len(shown_on_web)
    assert added("evergreen_messages_total", channel="app", direction="out", sender="bot") == \
        len([m for m in app_user.history() if m["sender"] == "bot"])
    assert value(after, "evergreen_messages_pending", channel="web") == 0

    assert added("evergreen_assistant_reply_seconds_count", channel="web") == 3  # every message answered
    assert added("evergreen_assistant_reply_seconds_count", channel="app") == 1
    assert added("evergreen_http_request_seconds_count", method="POST", route="/api/v1/messages", status="200") == 4

    assert value(after, "evergreen_handoffs_waiting", queue="general", urgent="false") == 1
    assert value(after, "evergreen_handoffs_waiting", queue="general", urgent="true") == 0
    assert value(after, "evergreen_handoffs_waiting", queue="private", urgent="false") == 0
    assert value(after, "evergreen_handoffs_with_agent", queue="general") == 0

    def ran(name: str) -> float:
        return value(actions_after, "evergreen_action_seconds_count", action=name) - \
            value(actions_before, "evergreen_action_seconds_count", action=name)

    assert (ran("action_answer_product"), ran("action_handoff")) == (3, 1)

    agent = Console(system.contact_url).log_in(DEMO_AGENT)
    [waiting] = [h for h in agent.waiting() if h["conversation_id"] == conversation_id]
    status, _ = agent.call("POST", f"/console/api/handoffs/{waiting['id']}/claim")
    assert status == 200
    claimed = scrape(system.contact_url)
    assert value(claimed, "evergreen_handoffs_waiting", queue="general", urgent="false") == 0
    assert value(claimed, "evergreen_handoffs_with_agent", queue="general") == 1
    # Routes are labelled by their pattern, never by the ids in the URL.
    assert value(claimed, "evergreen_http_request_seconds_count", method="POST",
                 route="/console/api/handoffs/<handoff_id:str>/claim", status="200") == 1
    assert all(conversation_id not in label and f"/handoffs/{waiting['id']}/" not in label
               for _, labels in claimed for _, label in labels)


def test_backlogs_are_counted_from_the_database(system, database_url):
    """Rows as the overdue job, the email channel, the Telegram outbox and bookings leave them."""
    now = datetime(2026, 11, 30, 9, 0, tzinfo=SHANGHAI)
    later = datetime(2027, 1, 4, tzinfo=SHANGHAI)  # no deadline of the overdue job passes meanwhile
    with Session(create_engine(database_url)) as session:
        for number, (state, urgent, overdue) in enumerate([("received", True, ["first_reply"]),
                                                           ("investigating", False, ["first_reply", "resolution"]),
                                                           ("closed", False, ["resolution"])]):
            session.add(Complaint(
                reference=f"C20261130-90{number:02d}", source_key=f"metrics-{number}", channel="web", language="zh",
                category="fees", urgent=urgent, description="-", state=state, received_at=now, first_reply_due=later,
                resolution_due=later, regulatory_due=later, overdue=overdue, updated_at=now))
        for state in ("queued", "queued", "parked", "sent"):
            session.add(EmailOutbox(message_id=f"<{secrets.token_hex(8)}@evergreen.example>", envelope_from="s@evergreen.example",
                                    recipients=["c@example.com"], message=b"Subject: x\r\n\r\nx\r\n", state=state,
                                    next_attempt_at=now, created_at=now, updated_at=now))
        for number, (category, urgent) in enumerate([("complaint", True), ("faq", False), ("faq", False)]):
            session.add(Conversation(id=f"metrics-email-{number}", channel="email", owner="queued"))
            session.flush()
            session.add(EmailTicket(reference=f"Q20261130-90{number:02d}", source_key=f"<metrics-{number}@example.com>",
                                    conversation_id=f"metrics-email-{number}", language="zh", category=category,
                                    urgent=urgent, created_at=now))
        session.add(Callback(reference="CB20261130-9000", source_key="metrics-callback", channel="web", language="zh",
                             name="-", mobile="138****5678", state="requested", created_at=now, window_start=later,
                             window_end=later))
        session.add(Conversation(id="metrics-telegram", channel="telegram", owner="bot"))
        session.flush()
        session.add(TelegramChat(conversation_id="metrics-telegram", chat_id=990001, user_id=990001, delivered_up_to=0,
                                 created_at=now))
        session.add(Message(conversation_id="metrics-telegram", direction="out", sender="bot", text="-", status="sent"))
        session.commit()

    samples = scrape(system.contact_url)
    assert value(samples, "evergreen_complaints", state="received", urgent="true") == 1
    assert value(samples, "evergreen_complaints", state="investigating", urgent="false") == 1
    assert value(samples, "evergreen_complaints", state="closed", urgent="false") == 1
    assert value(samples, "evergreen_complaints", state="resolved", urgent="false") == 0  # shown, at 0
    assert {deadline: value(samples, "evergreen_complaints_overdue", deadline=deadline) for deadline in DEADLINES} == \
        {"first_reply": 2, "resolution": 1, "regulatory": 0}  # the closed complaint's miss is not counted
    assert {state: value(samples, "evergreen_email_outbox", state=state) for state in OUTBOX_STATES} == \
        {"queued": 2, "sending": 0, "sent": 1, "failed_temporarily": 0, "parked": 1, "uncertain": 0}
    assert value(samples, "evergreen_email_tickets_total", category="complaint", urgent="true") == 1
    assert value(samples, "evergreen_email_tickets_total", category="faq", urgent="false") == 2
    assert value(samples, "evergreen_bookings", kind="callback", state="requested") == 1
    assert value(samples, "evergreen_bookings", kind="appointment", state="requested") == 0
    assert value(samples, "evergreen_telegram_chats_unsent") == 1


def test_metrics_are_refused_to_requests_through_a_proxy(system):
    for base_url in (system.contact_url, system.actions_url):
        status, _ = get_metrics(base_url, {"X-Forwarded-For": "203.0.113.7"})  # a reverse proxy on this host
        assert status == 403


def test_with_a_metrics_token_the_token_is_always_required(tmp_path):
    token = secrets.token_urlsafe(24)
    with contact_service_alone(tmp_path, free_port(), METRICS_TOKEN=token) as url:
        assert get_metrics(url)[0] == 401  # loopback is not enough any more
        assert get_metrics(url, {"Authorization": "Bearer wrong"})[0] == 401
        samples = scrape(url, {"Authorization": f"Bearer {token}"})
    assert value(samples, "evergreen_database_up") == 1
    assert value(samples, "evergreen_handoffs_waiting", queue="private", urgent="true") == 0
