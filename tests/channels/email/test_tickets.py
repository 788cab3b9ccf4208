"""Tickets from mail in the database (channels/email/tickets.py), on SQLite and PostgreSQL: kept
once per Message-ID, everything a mail causes in one transaction, threading that a copied
reference cannot abuse, agents' replies mailed exactly once and threaded, the daily cap counted
in Beijing days, personal numbers masked and sealed, a mail that keeps failing left for a person."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.core.audit import AuditEntry
from bot.core.errors import Conflict, NotFound
from bot.core.models import Message
from bot.core.vault import PersonalNumber
from bot.handoff.models import Handoff
from bot.references import pattern
from bot.service_hours import SHANGHAI
from channels.email.models import EmailMail, EmailOutbox, EmailTicket
from channels.email.reading import read_email
from channels.email.tickets import AlreadyProcessed, NewTicket, topic_subject
from tests.support.mail import QUESTION, T0, acknowledge, open_from


FIXTURES = Path(__file__).parent / "fixtures"


def mail_from(sender: str, subject: str, text: str = "补充说明", **headers: str) -> bytes:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, "service@evergreen.example", subject
    mail["Message-ID"] = f"<{abs(hash((sender, subject, text, tuple(headers.items()))))}@customer.example>"
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content(text)
    return bytes(mail)


def outbox(sessions):
    with sessions() as session:
        return [message_from_bytes(row.message, policy=policy.default)
                for row in session.execute(select(EmailOutbox).order_by(EmailOutbox.id)).scalars()]


def test_a_mail_fetched_twice_is_kept_once(tickets):
    raw = (FIXTURES / "zh_question.eml").read_bytes()
    assert tickets.store_received(raw, 7, T0)
    assert not tickets.store_received((FIXTURES / "zh_question_duplicate.eml").read_bytes(), 8, T0)
    assert len(tickets.received()) == 1


def test_a_new_mail_makes_ticket_message_queue_entry_and_acknowledgement_together(tickets, sessions):
    ticket, message, ack = open_from(tickets, (FIXTURES / "zh_question.eml").read_bytes())
    assert re.fullmatch(pattern("Q"), ticket.reference) and ticket.reference.startswith("Q20261130-")
    assert ticket.subject == "咨询：长青货币宝起购金额"
    assert (ticket.address_key, ticket.name, ticket.acknowledged_at) == ("zhang.wei@example.cn", "张伟", T0)
    assert message.status == "for_agent" and message.text.startswith("✉ 咨询：长青货币宝起购金额")
    assert ack.sender == "bot" and ack.text == "已收到"
    [sent] = outbox(sessions)
    assert sent["Auto-Submitted"] == "auto-replied" and sent["In-Reply-To"] == "<20261128093012.4F2A1@mail.example.cn>"
    with sessions() as session:
        handoff = session.execute(select(Handoff)).scalar_one()
        mail = session.execute(select(EmailMail).where(EmailMail.direction == "in")).scalar_one()
    assert (handoff.conversation_id, handoff.channel, handoff.reason, handoff.state) == (ticket.conversation_id, "email", "email", "waiting")
    assert (mail.state, mail.raw, mail.ticket_id) == ("processed", None, ticket.id)  # the raw copy is gone
    assert tickets.received() == []


def test_a_mail_processed_again_changes_nothing(tickets, sessions):
    raw = (FIXTURES / "zh_question.eml").read_bytes()
    ticket, _, _ = open_from(tickets, raw)
    with sessions() as session:
        mail_id = session.execute(select(EmailMail.id).where(EmailMail.direction == "in")).scalar_one()
    with pytest.raises(AlreadyProcessed):
        tickets.open_ticket(mail_id, read_email(raw), QUESTION, T0, acknowledge)
    with pytest.raises(AlreadyProcessed):
        tickets.add_to_ticket(mail_id, read_email(raw), ticket, T0)
    with sessions() as session:
        counts = [session.execute(select(func.count()).select_from(model)).scalar() for model in (EmailTicket, EmailOutbox, Message)]
    assert counts == [1, 1, 2]


def test_no_acknowledgement_when_the_rules_say_so_but_the_ticket_is_made(tickets, sessions):
    decided = NewTicket(**{**QUESTION.__dict__, "no_acknowledgement": "auto-submitted: auto-replied"})
    ticket, _, ack = open_from(tickets, (FIXTURES / "out_of_office.eml").read_bytes(), decided=decided)
    assert ack is None and ticket.acknowledgement_id is None and ticket.no_acknowledgement.startswith("auto-submitted")
    assert outbox(sessions) == []


def test_threading_by_headers_and_by_reference_from_the_same_address_only(tickets, sessions):
    ticket, _, _ = open_from(tickets, (FIXTURES / "zh_question.eml").read_bytes())
    [ack] = outbox(sessions)
    answer = read_email(mail_from("someone.else@example.org", "Re: 你好", In_Reply_To=ack["Message-ID"]))
    assert tickets.ticket_for(answer).id == ticket.id  # the headers name our mail: whoever forwarded it
    by_reference = read_email(mail_from("Zhang.Wei@EXAMPLE.cn", f"回复：【{ticket.reference}】还有问题"))
    assert tickets.ticket_for(by_reference).id == ticket.id
    copied = read_email(mail_from("mallory@elsewhere.example", f"[{ticket.reference}] tell me everything"))
    assert tickets.ticket_for(copied) is None
    assert tickets.ticket_for(read_email(mail_from("zhang.wei@example.cn", "另一个问题"))) is None


def test_a_reply_after_resolution_goes_back_to_the_queue(tickets, sessions):
    ticket, _, _ = open_from(tickets, (FIXTURES / "zh_question.eml").read_bytes())
    with sessions() as session:
        handoff = session.execute(select(Handoff)).scalar_one()
        handoff.state = "resolved"
        session.commit()
    raw = mail_from("zhang.wei@example.cn", f"Re: [{ticket.reference}]", "还是没有到账")
    assert tickets.store_received(raw, 2, T0)
    [mail_id] = tickets.received()
    message = tickets.add_to_ticket(mail_id, read_email(raw), ticket, T0 + timedelta(hours=1))
    assert message.status == "for_agent" and "还是没有到账" in message.text
    with sessions() as session:
        states = [h.state for h in session.execute(select(Handoff).order_by(Handoff.id)).scalars()]
    assert states == ["resolved", "waiting"]


def test_agents_replies_are_mailed_once_in_the_thread(tickets, sessions):
    ticket, _, _ = open_from(tickets, (FIXTURES / "zh_question.eml").read_bytes())
    store = tickets.conversations
    store.store_outbound(ticket.conversation_id, "您好，起购金额是 100 元。", "agent")
    store.store_outbound(ticket.conversation_id, "客服 Demo Agent 已接入", "system")  # never mailed

    def compose(t, text):
        return f"[{t.reference}] 回复：{t.subject}", text

    assert tickets.tickets_with_unmailed_replies() == [ticket.id]
    assert tickets.mail_agent_replies(ticket.id, T0, compose) == 1
    assert tickets.mail_agent_replies(ticket.id, T0, compose) == 0
    assert tickets.tickets_with_unmailed_replies() == []
    ack, reply = outbox(sessions)
    assert reply.get_content().strip() == "您好，起购金额是 100 元。" and reply["Auto-Submitted"] is None
    assert reply["In-Reply-To"] == "<20261128093012.4F2A1@mail.example.cn>"
    assert reply["References"].split() == [ack["Message-ID"], "<20261128093012.4F2A1@mail.example.cn>"]

    # The customer answers the agent: the next reply answers that mail.
    raw = mail_from("zhang.wei@example.cn", "Re: x", "好的，谢谢", In_Reply_To=reply["Message-ID"])
    tickets.store_received(raw, 3, T0)
    [mail_id] = tickets.received()
    tickets.add_to_ticket(mail_id, read_email(raw), tickets.ticket_for(read_email(raw)), T0)
    store.store_outbound(ticket.conversation_id, "不客气。", "agent")
    assert tickets.mail_agent_replies(ticket.id, T0, compose) == 1
    assert outbox(sessions)[-1]["In-Reply-To"] == read_email(raw).message_id


def test_the_daily_cap_counts_acknowledgements_since_beijing_midnight(tickets):
    late = datetime(2026, 11, 29, 23, 59, tzinfo=SHANGHAI)
    for n in range(3):
        open_from(tickets, mail_from("busy@customer.example", f"问题 {n}"), now=late)
    open_from(tickets, mail_from("busy@customer.example", "问题 3"), now=late + timedelta(minutes=2))
    assert tickets.acknowledgements_today("busy@customer.example", late) == 3
    assert tickets.acknowledgements_today("busy@customer.example", late + timedelta(minutes=2)) == 1
    assert tickets.acknowledgements_today("other@customer.example", late) == 0


def test_personal_numbers_are_masked_for_agents_and_the_mobile_sealed(tickets, sessions):
    raw = mail_from("li@customer.example", "回电", "请回电 13812345678，身份证 110101199003071234，卡号 6222021234567890123")
    _, message, _ = open_from(tickets, raw)
    assert "13812345678" not in message.text and "110101199003071234" not in message.text
    assert "6222021234567890123" not in message.text and "138****5678" in message.text
    with sessions() as session:
        [sealed] = session.execute(select(PersonalNumber)).scalars()
    assert sealed.message_id == message.id and sealed.masked == "138****5678" and "13812345678" not in sealed.ciphertext


def test_a_mail_that_keeps_failing_is_left_for_a_person(tickets, sessions):
    tickets.store_received(mail_from("x@customer.example", "问题"), 1, T0)
    [mail_id] = tickets.received()
    for _ in range(4):
        tickets.processing_failed(mail_id, "ValueError: broken", give_up_after=5)
    assert tickets.received() == [mail_id]
    tickets.processing_failed(mail_id, "ValueError: broken", give_up_after=5)
    assert tickets.received() == []
    with sessions() as session:
        mail = session.get(EmailMail, mail_id)
    assert (mail.state, mail.attempts, mail.error) == ("failed", 5, "ValueError: broken") and mail.raw


def test_our_subjects_drop_reply_prefixes_and_references():
    assert topic_subject("Re: 回复：[Q20261129-0001] 赎回到账时间", ("Q20261129-0001",)) == "赎回到账时间"
    assert topic_subject("RE: Fwd: my question", ()) == "my question"
    assert topic_subject("【C20261128-0007】 投诉进展", ("C20261128-0007",)) == "投诉进展"


AUTOMATED = NewTicket(language="en", category="automated", intent=None, confidence=None, urgent=False,
                      complaint_reference=None, no_acknowledgement="auto-submitted: auto-replied", automated=True)


def handoff_states(sessions, conversation_id):
    with sessions() as session:
        return [h.state for h in session.execute(select(Handoff).where(Handoff.conversation_id == conversation_id)).scalars()]


def test_machine_mail_waits_in_no_queue_until_a_person_writes_or_an_agent_moves_it(tickets, sessions):
    away, _, ack = open_from(tickets, mail_from("away@customer.example", "Out of Office", "Back on Monday."), decided=AUTOMATED)
    assert (away.state, ack, handoff_states(sessions, away.conversation_id)) == ("automated", None, [])
    assert outbox(sessions) == []
    # Another automatic mail in its thread changes nothing; the person writing opens it.
    again = mail_from("away@customer.example", "Out of Office", "Still away.", In_Reply_To=away.source_key)
    tickets.store_received(again, 2, T0)
    tickets.add_to_ticket(tickets.received()[0], read_email(again), away, T0, automated=True)
    assert handoff_states(sessions, away.conversation_id) == []
    person = mail_from("away@customer.example", "Back now", "Sorry, I am back: please call me.", In_Reply_To=away.source_key)
    tickets.store_received(person, 3, T0)
    tickets.add_to_ticket(tickets.received()[0], read_email(person), away, T0)
    assert handoff_states(sessions, away.conversation_id) == ["waiting"]
    assert tickets.automated() == []


def test_automated_tickets_are_searched_and_moved_into_the_queue_once(tickets, sessions):
    news, _, _ = open_from(tickets, mail_from("Fund Weekly <news@weekly.example>", "Fund Weekly 100%_off"), decided=AUTOMATED)
    bounce, _, _ = open_from(tickets, mail_from("MAILER-DAEMON@mx.example", "Undelivered Mail"), decided=AUTOMATED)
    assert [t.id for t in tickets.automated()] == [bounce.id, news.id]
    assert [t.id for t in tickets.automated("WEEKLY")] == [news.id]
    assert [t.id for t in tickets.automated("100%_")] == [news.id]
    assert tickets.automated("1000%") == [] and tickets.automated("weekly mailer") == []
    assert [t.id for t in tickets.automated("auto-submitted", limit=1)] == [bounce.id]
    assert [t.id for t in tickets.automated(before=bounce.id)] == [news.id]

    tickets.queue_automated(news.id, "staff:amy", "127.0.0.1", T0)
    assert handoff_states(sessions, news.conversation_id) == ["waiting"]
    with pytest.raises(Conflict):
        tickets.queue_automated(news.id, "staff:amy", "127.0.0.1", T0)
    with pytest.raises(NotFound):
        tickets.queue_automated(99999, "staff:amy", "127.0.0.1", T0)
    with sessions() as session:
        [entry] = session.execute(select(AuditEntry)).scalars()
    assert (entry.actor, entry.action, entry.target) == ("staff:amy", "email_queue_automated", news.reference)
    assert [t.id for t in tickets.automated()] == [bounce.id]
