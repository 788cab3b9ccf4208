"""Urgent complaints are limited per conversation and per origin (bot/complaints/desk.py): each one
goes to the head of every queue with regulatory deadlines running, so a flood of made-up fraud
reports must not file one each. Beyond the limit the customer is still handed to a person with
the safety steps, in their language, and nothing is filed.

The count is in the database, on SQLite and PostgreSQL, and holds when several processes file at
once (threads with an engine each here: separate connections, as separate processes have). The
email channel applies the same limit per sender (a real dovecot and SMTP server; the urgent words
make a mail urgent without Rasa). The chat flood through the whole system is in
test_limits_urgent_system.py.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import List

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from actions.complaints import NOT_FILED, ActionReportFraud, ValidateComplaintForm
from bot.complaints.desk import (
    URGENT_PER_CONVERSATION, URGENT_PER_ORIGIN, URGENT_WINDOW, ComplaintDesk, ComplaintDraft, UrgentLimitReached,
)
from bot.complaints.models import Complaint
from bot.core.db import make_engine, session_factory
from bot.handoff.models import Handoff
from bot.service_hours import SHANGHAI
from tests.support.imap_server import DovecotServer
from tests.support.mail import body, email_env, mails_to, message_id_of, new_mail, ticket_of
from tests.support.ports import free_port
from tests.support.smtp_server import SmtpServer
from tests.support.system import contact_service_alone
from tests.support.trackers import count, make_tracker, run_action, stored, texts, validate
from tests.support.waiting import wait_for

# Every test on its own SQLite database, the actions' clock at NOW (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("actions_database")

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=SHANGHAI)
FRAUD = "Someone hacked my account and transferred my money out"


def draft(key: str, conversation: str, origin: str = None, urgent: bool = True) -> ComplaintDraft:
    return ComplaintDraft(source_key=key, conversation_id=conversation, customer_id=None, channel="web", language="en",
                          category="other", description=FRAUD, urgent=urgent, origin=origin)


def filed(sessions, **where) -> int:
    with sessions() as session:
        query = select(func.count(Complaint.id))
        for column, value in where.items():
            query = query.where(getattr(Complaint, column) == value)
        return session.execute(query).scalar_one()


# --- the desk, on both databases ------------------------------------------------------------------

def test_urgent_complaints_per_conversation(sessions):
    desk = ComplaintDesk(sessions)
    for n in range(URGENT_PER_CONVERSATION):
        assert desk.file(draft(f"k{n}", "conversation-1"), NOW + timedelta(minutes=n)).urgent
    with pytest.raises(UrgentLimitReached) as refused:
        desk.file(draft("k-over", "conversation-1"), NOW + timedelta(minutes=5))
    assert refused.value.counted_by == "conversation"
    assert filed(sessions, conversation_id="conversation-1") == URGENT_PER_CONVERSATION
    assert not desk.file(draft("k-ordinary", "conversation-1", urgent=False), NOW).urgent  # ordinary ones are not limited
    assert desk.file(draft("k-other", "conversation-2"), NOW).urgent
    # an hour later the conversation may file again; a retried message finds what it filed
    assert desk.file(draft("k-later", "conversation-1"), NOW + URGENT_WINDOW + timedelta(minutes=2)).urgent
    assert desk.file(draft("k0", "conversation-1"), NOW + timedelta(minutes=6)).reference == \
        desk.file(draft("k0", "conversation-1"), NOW).reference


def test_urgent_complaints_per_origin(sessions):
    desk = ComplaintDesk(sessions)
    for n in range(URGENT_PER_ORIGIN):  # a new conversation each time: a new visitor session
        desk.file(draft(f"k{n}", f"visitor-{n}", origin="origin-a"), NOW)
    with pytest.raises(UrgentLimitReached) as refused:
        desk.file(draft("k-over", "visitor-over", origin="origin-a"), NOW)
    assert refused.value.counted_by == "origin"
    assert filed(sessions, origin="origin-a") == URGENT_PER_ORIGIN and filed(sessions, conversation_id="visitor-over") == 0
    assert desk.file(draft("k-b", "visitor-b", origin="origin-b"), NOW).origin == "origin-b"  # someone else


def test_the_limit_holds_when_several_processes_file_at_once(sessions):
    url = sessions.kw["bind"].url
    attempts = 8
    engines = [make_engine(str(url.render_as_string(hide_password=False))) for _ in range(attempts)]
    start, outcomes = threading.Barrier(attempts), []

    def report(n: int) -> None:
        start.wait()
        try:
            ComplaintDesk(session_factory(engines[n])).file(draft(f"flood-{n}", f"visitor-{n}", origin="flooder"), NOW)
            outcomes.append("filed")
        except UrgentLimitReached:
            outcomes.append("limited")

    threads = [threading.Thread(target=report, args=(n,)) for n in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    for engine in engines:
        engine.dispose()
    assert sorted(outcomes) == ["filed"] * URGENT_PER_ORIGIN + ["limited"] * (attempts - URGENT_PER_ORIGIN)
    assert filed(sessions, origin="flooder") == URGENT_PER_ORIGIN


# --- the assistant's actions (SQLite; the actions_database fixture) ------------------------

def fraud_report(message_id: int, conversation: str, origin: str, text: str = FRAUD):
    metadata = stored(message_id)
    metadata["message"]["origin"] = origin
    tracker = make_tracker(text, "report_fraud", metadata=metadata)
    tracker.sender_id = conversation
    return tracker


async def test_beyond_the_limit_a_fraud_report_is_handed_to_a_person_not_filed(actions_database, monkeypatch):
    monkeypatch.setenv("EVERGREEN_CLOCK", "2026-11-30T10:00:00+08:00")  # agents are in
    told: List[str] = []
    for n in range(URGENT_PER_ORIGIN + 2):
        messages, _ = await run_action(ActionReportFraud(), fraud_report(n + 1, f"visitor-{n}", "flooder",
                                                                         "我的账户被盗了，有人把钱转走了"))
        told.append(texts(messages))
        handoff = [m["custom"]["handoff"] for m in messages if "handoff" in (m.get("custom") or {})]
        assert handoff and handoff[0]["urgent"] is True  # every one reaches a person, at the head of the queue
        assert (handoff[0]["complaint_reference"] is None) == (n >= URGENT_PER_ORIGIN)
    assert count(actions_database, Complaint) == URGENT_PER_ORIGIN
    assert all("我们已将此事标记为紧急（编号" in said for said in told[:URGENT_PER_ORIGIN])
    for said in told[URGENT_PER_ORIGIN:]:
        assert "本次不再另行登记新的投诉编号" in said and "正在为您优先转接人工客服" in said
        assert "400-820-8888 冻结账户交易" in said and "编号 C" not in said
    messages, _ = await run_action(ActionReportFraud(), fraud_report(99, "visitor-elsewhere", "someone-else"))
    assert "We've marked this as urgent (reference C" in texts(messages)


async def test_after_hours_the_customer_is_told_when_agents_are_back_and_the_form_ends(actions_database, monkeypatch):
    monkeypatch.setenv("EVERGREEN_CLOCK", "2026-11-30T23:00:00+08:00")
    form = ValidateComplaintForm()
    for n in range(URGENT_PER_CONVERSATION):
        slots, _ = validate(form.validate_complaint_description, FRAUD, fraud_report(n + 1, "conversation-1", f"place-{n}"))
        assert slots["complaint_reference"].startswith("C")
    tracker = fraud_report(9, "conversation-1", "place-9")
    dispatcher_slots, said = validate(form.validate_complaint_description, FRAUD, tracker)
    assert dispatcher_slots["complaint_reference"] == NOT_FILED  # no more questions: the form is over
    assert "not registered as a new complaint" in said and "Our agents are back on" in said and "call 110" in said
    assert count(actions_database, Complaint) == URGENT_PER_CONVERSATION


# --- the email channel: per sender ----------------------------------------------------------------

def test_urgent_mail_is_limited_per_sender_and_each_still_reaches_a_person(tmp_path):
    flooder, other = "fraud.flood@customer.example", "real.victim@customer.example"
    dovecot, smtp = DovecotServer().start(), SmtpServer(tmp_path / "smtp").start()
    try:
        # No Rasa on that port: the urgent words alone make a mail a fraud report.
        with contact_service_alone(tmp_path, free_port(), **email_env(dovecot, smtp)):
            flood = [new_mail(flooder, f"紧急求助 {n}", "有人盗用我的账户，钱被转走了") for n in range(URGENT_PER_ORIGIN + 2)]
            for raw in flood + [new_mail(other, "账户被盗", "有人盗用我的账户，钱被转走了")]:
                dovecot.append(raw)
            wait_for(lambda: len(mails_to(smtp, flooder)) == len(flood) and mails_to(smtp, other), message="acknowledgements")
            database = f"sqlite:///{tmp_path / 'contact.db'}"
            tickets = [ticket_of(database, message_id_of(raw)) for raw in flood]
            engine = create_engine(database)
            with Session(engine) as session:
                handoffs = {h.conversation_id: h for h in session.execute(select(Handoff)).scalars()}
            engine.dispose()
    finally:
        dovecot.cleanup()
        smtp.stop()
    assert all(t.urgent and t.category == "fraud" and handoffs[t.conversation_id].urgent for t in tickets)
    assert sum(t.complaint_reference is not None for t in tickets) == URGENT_PER_ORIGIN
    limited = [body(m) for m in mails_to(smtp, flooder) if "本次不再另行登记新的投诉编号" in body(m)]
    assert len(limited) == len(flood) - URGENT_PER_ORIGIN
    assert all("400-820-8888 冻结账户交易" in text and "编号 C" not in text for text in limited)
    [answer] = mails_to(smtp, other)
    assert "我们已将此事标记为紧急（编号 C" in body(answer)
