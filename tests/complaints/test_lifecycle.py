"""Complaint lifecycle, overdue escalation and the periodic report, on SQLite and PostgreSQL.

Times are fixed 2026 dates; their deadlines (from bot.working_calendar) are written out:
received Mon 2026-03-02 10:00 → first reply 03-03 10:00, general resolution 03-09 23:59:59,
complex 03-16 23:59:59, regulatory 03-17 23:59:59 (03-27 with a 10-day extension).
"""

from __future__ import annotations

import secrets
import threading
from datetime import date, datetime

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from bot.complaints import overdue, report
from bot.complaints.desk import ComplaintDesk, ComplaintDraft
from bot.complaints.lifecycle import ComplaintLifecycle, ComplaintNotFound, Conflict, InvalidChange, NotAllowed
from bot.complaints.models import Complaint, ComplaintEvent
from bot.core import staff as staff_accounts
from bot.core.store import ConversationStore
from bot.core.vault import Vault
from bot.service_hours import SHANGHAI


def at(month: int, day: int, hour: int = 10, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=SHANGHAI)


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock():
    return Clock(at(3, 2, 11))


@pytest.fixture
def team(sessions):
    """supervisor "sue", agents "amy" and "bob", and "old" who has left."""
    with sessions() as session:
        staff_accounts.save(session, "sue", "Sue", "supervisor")
        staff_accounts.save(session, "amy", "Amy", "agent")
        staff_accounts.save(session, "bob", "Bob", "agent")
        staff_accounts.save(session, "old", "Old", "agent")
        staff_accounts.deactivate(session, "old")
        return {staff_id: session.get(staff_accounts.Staff, staff_id) for staff_id in ("sue", "amy", "bob")}


@pytest.fixture
def pushed():
    return []


@pytest.fixture
def lifecycle(sessions, clock, pushed):
    return ComplaintLifecycle(sessions, notify=pushed.append, clock=clock)


def file(sessions, received_at=None, conversation_id=None, **fields) -> Complaint:
    draft = dict(
        source_key=f"test:{secrets.token_hex(6)}", conversation_id=conversation_id, customer_id=None, channel="web",
        language="zh", category="fees", description="管理费多扣了 120 元",
    )
    draft.update(fields)
    return ComplaintDesk(sessions).file(ComplaintDraft(**draft), received_at or at(3, 2))


def events(sessions, complaint) -> list:
    return ComplaintDesk(sessions).events(complaint.id)


def reload(sessions, complaint) -> Complaint:
    with sessions() as session:
        return session.get(Complaint, complaint.id)


def conversation(sessions, conversation_id: str = "visitor-1") -> str:
    ConversationStore(sessions, Vault(Fernet.generate_key().decode())).open_conversation(conversation_id, None, "web", "zh")
    return conversation_id


def customer_messages(sessions, conversation_id: str) -> list:
    return ConversationStore(sessions, Vault(Fernet.generate_key().decode())).history(conversation_id)


def test_full_lifecycle_records_every_step_and_tells_the_customer(sessions, team, lifecycle, clock, pushed):
    chat = conversation(sessions)
    complaint = file(sessions, conversation_id=chat)
    amy = team["amy"]

    acknowledged = lifecycle.transition(complaint.reference, amy, "acknowledged")
    assert acknowledged.state == "acknowledged" and acknowledged.first_replied_at == at(3, 2, 11)
    told = customer_messages(sessions, chat)
    assert [m.sender for m in told] == ["agent"]
    assert complaint.reference in told[0].text and "已确认受理" in told[0].text and "3月9日" in told[0].text
    assert [m.id for m in pushed] == [told[0].id]

    clock.now = at(3, 3, 9)
    lifecycle.add_note(complaint.reference, amy, "内部备注：客户 13812345678 来电两次")
    lifecycle.transition(complaint.reference, amy, "investigating")
    clock.now = at(3, 4, 15)
    with pytest.raises(InvalidChange):
        lifecycle.transition(complaint.reference, amy, "resolved", resolution="  ")
    resolved = lifecycle.transition(complaint.reference, amy, "resolved", resolution="已退还多收的管理费 120 元。")
    assert resolved.resolved_at == at(3, 4, 15) and resolved.first_replied_at == at(3, 2, 11)
    clock.now = at(3, 5, 9)
    closed = lifecycle.transition(complaint.reference, amy, "closed")
    assert closed.state == "closed" and closed.closed_at == at(3, 5, 9) and closed.updated_at == at(3, 5, 9)

    told = customer_messages(sessions, chat)
    assert len(told) == 2 and len(pushed) == 2
    assert told[1].text.startswith(f"您的投诉 {complaint.reference} 已处理完毕：已退还多收的管理费 120 元。")
    assert not any("内部备注" in m.text or "amy" in m.text for m in told)

    history = events(sessions, complaint)
    assert [e.kind for e in history] == ["received", "acknowledged", "note", "investigating", "resolved", "closed"]
    assert [e.actor for e in history[1:]] == ["staff:amy"] * 5
    assert history[2].detail == {"text": "内部备注：客户 138****5678 来电两次"}  # masked as stored
    assert history[1].detail["customer_message_id"] == told[0].id
    assert history[4].detail["resolution"] == "已退还多收的管理费 120 元。"


def test_english_complaints_are_answered_in_english(sessions, team, lifecycle):
    chat = conversation(sessions, "visitor-en")
    complaint = file(sessions, conversation_id=chat, language="en", description="I was overcharged")
    lifecycle.transition(complaint.reference, team["amy"], "investigating")  # skips acknowledged
    told = customer_messages(sessions, chat)
    assert len(told) == 1 and told[0].text.startswith(f"Your complaint {complaint.reference} has been acknowledged")
    assert reload(sessions, complaint).first_replied_at is not None


def test_forbidden_transitions_are_conflicts_and_change_nothing(sessions, team, lifecycle, clock):
    amy = team["amy"]
    complaint = file(sessions)
    for target in ("resolved", "closed", "received"):
        with pytest.raises(Conflict):
            lifecycle.transition(complaint.reference, amy, target)
    with pytest.raises(InvalidChange):
        lifecycle.transition(complaint.reference, amy, "escalated")
    with pytest.raises(ComplaintNotFound):
        lifecycle.transition("C20260302-9999", amy, "acknowledged")
    untouched = reload(sessions, complaint)
    assert untouched.state == "received" and untouched.updated_at == at(3, 2)
    assert [e.kind for e in events(sessions, complaint)] == ["received"]

    lifecycle.transition(complaint.reference, amy, "acknowledged")
    for target in ("received", "acknowledged", "resolved", "closed"):
        with pytest.raises(Conflict):
            lifecycle.transition(complaint.reference, amy, target)
    lifecycle.transition(complaint.reference, amy, "investigating")
    with pytest.raises(Conflict):
        lifecycle.transition(complaint.reference, amy, "acknowledged")
    lifecycle.transition(complaint.reference, amy, "resolved", resolution="Refunded.")

    with pytest.raises(InvalidChange):  # reopening needs a reason
        lifecycle.transition(complaint.reference, amy, "investigating")
    reopened = lifecycle.transition(complaint.reference, amy, "investigating", reason="Customer says the refund is short.")
    assert reopened.state == "investigating" and reopened.resolved_at is None and reopened.resolution is None
    lifecycle.transition(complaint.reference, amy, "resolved", resolution="Refunded the rest.")
    lifecycle.transition(complaint.reference, amy, "closed")
    for target in ("received", "acknowledged", "investigating", "resolved", "closed"):
        with pytest.raises(Conflict):
            lifecycle.transition(complaint.reference, amy, target, reason="again")
    kinds = [e.kind for e in events(sessions, complaint)]
    assert kinds == ["received", "acknowledged", "investigating", "resolved", "reopened", "resolved", "closed"]


def test_only_supervisors_change_severity_urgency_assignment_and_deadlines(sessions, team, lifecycle):
    sue, amy, bob = team["sue"], team["amy"], team["bob"]
    complaint = file(sessions)
    with pytest.raises(NotAllowed):
        lifecycle.set_severity(complaint.reference, amy, "complex")
    with pytest.raises(NotAllowed):
        lifecycle.set_urgent(complaint.reference, amy, True)
    with pytest.raises(NotAllowed):
        lifecycle.extend(complaint.reference, amy, 5, "waiting for the custodian bank")
    with pytest.raises(NotAllowed):
        lifecycle.assign(complaint.reference, amy, "bob")

    assert lifecycle.assign(complaint.reference, amy, "amy").assignee == "amy"  # takes an unassigned one
    with pytest.raises(NotAllowed):  # but not a colleague's
        lifecycle.assign(complaint.reference, bob, "bob")
    with pytest.raises(InvalidChange):
        lifecycle.assign(complaint.reference, sue, "old")  # deactivated
    with pytest.raises(InvalidChange):
        lifecycle.assign(complaint.reference, sue, "nobody")
    assert lifecycle.assign(complaint.reference, sue, "bob").assignee == "bob"
    assert lifecycle.set_urgent(complaint.reference, sue, True).urgent is True
    with pytest.raises(InvalidChange):
        lifecycle.set_urgent(complaint.reference, sue, "yes")
    history = events(sessions, complaint)
    assert [(e.kind, e.actor, e.detail) for e in history[1:]] == [
        ("assigned", "staff:amy", {"from": None, "to": "amy"}),
        ("assigned", "staff:sue", {"from": "amy", "to": "bob"}),
        ("urgent_changed", "staff:sue", {"from": False, "to": True}),
    ]


def test_a_severity_change_counts_the_resolution_deadline_again(sessions, team, lifecycle):
    sue = team["sue"]
    complaint = file(sessions)
    assert complaint.resolution_due == at(3, 9, 23, 59, 59)
    assert lifecycle.set_severity(complaint.reference, sue, "complex").resolution_due == at(3, 16, 23, 59, 59)
    assert lifecycle.set_severity(complaint.reference, sue, "complex").resolution_due == at(3, 16, 23, 59, 59)  # no-op
    back = lifecycle.set_severity(complaint.reference, sue, "general")
    assert back.severity == "general" and back.resolution_due == at(3, 9, 23, 59, 59)
    assert back.regulatory_due == at(3, 17, 23, 59, 59)
    with pytest.raises(InvalidChange):
        lifecycle.set_severity(complaint.reference, sue, "major")
    changes = [e.detail for e in events(sessions, complaint) if e.kind == "severity_changed"]
    assert changes == [
        {"from": "general", "to": "complex", "resolution_due_from": "2026-03-09T23:59:59+08:00",
         "resolution_due_to": "2026-03-16T23:59:59+08:00"},
        {"from": "complex", "to": "general", "resolution_due_from": "2026-03-16T23:59:59+08:00",
         "resolution_due_to": "2026-03-09T23:59:59+08:00"},
    ]


def test_the_regulatory_deadline_is_extended_once_with_a_reason(sessions, team, lifecycle):
    sue = team["sue"]
    complaint = file(sessions)
    for days in (0, 16, "5", True, 2.5):
        with pytest.raises(InvalidChange):
            lifecycle.extend(complaint.reference, sue, days, "needs the custodian's records")
    with pytest.raises(InvalidChange):
        lifecycle.extend(complaint.reference, sue, 10, "")
    extended = lifecycle.extend(complaint.reference, sue, 10, "needs the custodian's records")
    assert extended.regulatory_due == at(3, 27, 23, 59, 59) and extended.regulatory_extension_days == 10
    with pytest.raises(Conflict):
        lifecycle.extend(complaint.reference, sue, 1, "once more")
    # A later severity change keeps the extension.
    assert lifecycle.set_severity(complaint.reference, sue, "complex").regulatory_due == at(3, 27, 23, 59, 59)
    (extension,) = [e for e in events(sessions, complaint) if e.kind == "extended"]
    assert extension.detail == {
        "days": 10, "reason": "needs the custodian's records",
        "regulatory_due_from": "2026-03-17T23:59:59+08:00", "regulatory_due_to": "2026-03-27T23:59:59+08:00",
    }


def test_closed_complaints_only_take_notes_and_events_are_never_removed(sessions, team, lifecycle):
    sue = team["sue"]
    complaint = file(sessions)
    lifecycle.transition(complaint.reference, sue, "investigating")
    lifecycle.transition(complaint.reference, sue, "resolved", resolution="Explained the fee schedule.")
    lifecycle.transition(complaint.reference, sue, "closed")
    before = [e.id for e in events(sessions, complaint)]
    for attempt in (
        lambda: lifecycle.set_severity(complaint.reference, sue, "complex"),
        lambda: lifecycle.set_urgent(complaint.reference, sue, True),
        lambda: lifecycle.assign(complaint.reference, sue, "amy"),
        lambda: lifecycle.extend(complaint.reference, sue, 3, "late"),
    ):
        with pytest.raises(Conflict):
            attempt()
    lifecycle.add_note(complaint.reference, sue, "Archived after the quarterly review.")
    after = [e.id for e in events(sessions, complaint)]
    assert after[:-1] == before and len(after) == len(before) + 1


def test_two_people_closing_at_once_close_it_once(sessions, team, lifecycle):
    complaint = file(sessions)
    lifecycle.transition(complaint.reference, team["amy"], "investigating")
    lifecycle.transition(complaint.reference, team["amy"], "resolved", resolution="Refunded.")
    start, outcomes = threading.Barrier(2), []

    def close(who):
        start.wait()
        try:
            lifecycle.transition(complaint.reference, team[who], "closed")
            outcomes.append("closed")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=close, args=(who,)) for who in ("amy", "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes) == ["closed", "conflict"]
    assert [e.kind for e in events(sessions, complaint)].count("closed") == 1


def test_overdue_escalates_each_missed_deadline_once(sessions, team, lifecycle, clock):
    late = file(sessions)
    answered = file(sessions)
    done = file(sessions)
    clock.now = at(3, 2, 12)
    lifecycle.transition(answered.reference, team["amy"], "acknowledged")
    lifecycle.transition(done.reference, team["amy"], "investigating")
    lifecycle.transition(done.reference, team["amy"], "resolved", resolution="Refunded.")

    assert overdue.mark_overdue(sessions, at(3, 3, 9)) == []
    assert overdue.mark_overdue(sessions, at(3, 3, 11)) == [(late.reference, "first_reply")]
    assert overdue.mark_overdue(sessions, at(3, 3, 12)) == []
    assert sorted(overdue.mark_overdue(sessions, at(3, 10, 0))) == sorted(
        [(late.reference, "resolution"), (answered.reference, "resolution")]
    )
    assert sorted(overdue.mark_overdue(sessions, at(3, 18, 0))) == sorted(
        [(late.reference, "regulatory"), (answered.reference, "regulatory")]
    )
    assert overdue.mark_overdue(sessions, at(4, 30, 0)) == []

    assert reload(sessions, late).overdue == ["first_reply", "resolution", "regulatory"]
    assert reload(sessions, answered).overdue == ["resolution", "regulatory"]
    assert reload(sessions, done).overdue == []
    escalations = [e for e in events(sessions, late) if e.kind == "escalated"]
    assert [(e.actor, e.dedupe_key, e.detail["deadline"]) for e in escalations] == [
        ("system", "overdue:first_reply", "first_reply"), ("system", "overdue:resolution", "resolution"),
        ("system", "overdue:regulatory", "regulatory"),
    ]
    assert escalations[0].detail["due"] == "2026-03-03T10:00:00+08:00"


def test_concurrent_overdue_runs_escalate_once(sessions):
    complaints = [file(sessions) for _ in range(6)]
    start, results, errors = threading.Barrier(2), [], []

    def run():
        start.wait()
        try:
            results.append(overdue.mark_overdue(sessions, at(3, 20, 0)))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    expected = {(c.reference, kind) for c in complaints for kind in overdue.DEADLINES}
    reported = results[0] + results[1]
    assert sorted(reported) == sorted(expected)  # each escalation reported by exactly one run
    with sessions() as session:
        count = session.execute(select(func.count()).select_from(ComplaintEvent).where(ComplaintEvent.kind == "escalated")).scalar_one()
    assert count == len(expected)
    assert all(reload(sessions, c).overdue == list(overdue.DEADLINES) for c in complaints)


def test_report_figures_on_crafted_complaints(sessions, team, lifecycle, clock):
    amy = team["amy"]

    def step(moment, reference, to, **extra):
        clock.now = moment
        lifecycle.transition(reference, amy, to, **extra)

    a = file(sessions, at(5, 11), product="EG-MM01", description="A 13812345678")
    step(at(5, 11, 12), a.reference, "acknowledged")
    step(at(5, 11, 13), a.reference, "investigating")
    step(at(5, 12, 15), a.reference, "resolved", resolution="Refunded.")
    step(at(5, 13, 9), a.reference, "closed")
    b = file(sessions, at(5, 12), product="EG-MM01", channel="app", severity="complex", urgent=True)
    step(at(5, 14, 9), b.reference, "investigating")  # first reply due 05-13 10:00: missed
    file(sessions, at(5, 13), category="product_service")  # untouched: first reply missed
    d = file(sessions, at(5, 15), category="contract_legal", product="<i>X</i>")
    step(at(5, 15, 11), d.reference, "acknowledged")
    e = file(sessions, at(5, 11, 11), product="EG-MM01")
    step(at(5, 11, 12), e.reference, "acknowledged")
    step(at(5, 11, 13), e.reference, "investigating")
    step(at(5, 19, 10), e.reference, "resolved", resolution="Refunded late.")  # due 05-18
    file(sessions, at(5, 10, 23, 59), category="other")  # outside the period
    file(sessions, at(5, 16, 0), category="other")

    result = report.build(sessions, date(2026, 5, 11), date(2026, 5, 15), at(5, 20, 12))
    assert len(result.complaints) == 5
    assert result.counts("category") == [("fees", 3), ("contract_legal", 1), ("product_service", 1)]
    assert result.counts("channel") == [("web", 4), ("app", 1)]
    assert result.counts("severity") == [("general", 4), ("complex", 1)]
    assert result.counts("urgent") == [("False", 4), ("True", 1)]
    assert result.counts("product") == [("EG-MM01", 3), ("<i>X</i>", 1), ("none", 1)]
    assert result.compliance() == {
        "first_reply": {"met": 3, "missed": 2, "pending": 0, "rate": 0.6},
        "resolution": {"met": 1, "missed": 1, "pending": 3, "rate": 0.5},
        "regulatory": {"met": 2, "missed": 0, "pending": 3, "rate": 1.0},
    }
    assert result.open_ages() == [("under 1 day", 0), ("1–2 days", 0), ("3–5 days", 1), ("6–10 days", 2),
                                  ("11–15 days", 0), ("over 15 days", 0)]
    assert result.top_causes() == [("fees", "EG-MM01", 3), ("contract_legal", "<i>X</i>", 1), ("product_service", "none", 1)]

    rows = [line.split(",") for line in report.to_csv(result).splitlines()]
    assert rows[0] == list(report.CSV_COLUMNS) and len(rows) == 6
    by_reference = {row[0]: dict(zip(rows[0], row)) for row in rows[1:]}
    assert by_reference[a.reference]["received_at"] == "2026-05-11T10:00:00+08:00"
    assert (by_reference[a.reference]["first_reply_met"], by_reference[a.reference]["resolution_met"]) == ("yes", "yes")
    assert (by_reference[b.reference]["first_reply_met"], by_reference[b.reference]["resolution_met"]) == ("no", "")
    assert by_reference[e.reference]["resolution_met"] == "no" and by_reference[e.reference]["regulatory_met"] == "yes"
    assert "13812345678" not in report.to_csv(result) and "138****5678" not in report.to_csv(result)

    page = report.to_html(result)
    assert page.count("<svg") == 6 and "<script" not in page and "http" not in page
    assert "&lt;i&gt;X&lt;/i&gt;" in page and "<i>X</i>" not in page
    assert "60%" in page and "50%" in page and "100%" in page
    assert "Fees and charges · 费用及收费标准" in page
