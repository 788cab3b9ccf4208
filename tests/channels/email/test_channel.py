"""The email channel end to end: mail put into a real dovecot mailbox, read by the contact service
over IMAP, classified by the real assistant, acknowledged through a real SMTP server process
(aiosmtpd), answered by an agent through the console API; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.complaints.models import Complaint
from bot.core.models import Message
from bot.core.staff import DEMO_AGENT, demo_token
from bot.handoff.models import Handoff
from bot.language import format_moment
from channels.email.models import EmailOutbox, EmailTicket
from tests.support.clients import Console
from tests.support.imap_server import DovecotServer
from tests.support.mail import SERVICE, body, email_env, fixture, mails_to, message_id_of, new_mail, processed, subject, ticket_of
from tests.support.ports import free_port
from tests.support.smtp_server import SmtpServer
from tests.support.system import contact_service_alone, running_assistant
from tests.support.waiting import wait_for


DISCLOSURE_ZH = "理财非存款"
SENDER_OF_CRLF = "li.ming@example.org"


@pytest.fixture(scope="module")
def system(database_url, dovecot, smtp, tmp_path_factory):
    with running_assistant(database_url, tmp_path_factory.mktemp("logs"), **email_env(dovecot, smtp)) as assistant:
        yield assistant


def test_a_chinese_question_is_acknowledged_within_a_minute_with_the_answer(system, dovecot, smtp, database_url, db):
    started = time.monotonic()
    uid = dovecot.append(fixture("zh_question.eml"))
    [ack] = wait_for(lambda: mails_to(smtp, "zhang.wei@example.cn"), message="the acknowledgement")
    assert time.monotonic() - started < 60
    ticket = ticket_of(database_url, "<20261128093012.4F2A1@mail.example.cn>")
    assert ticket.reference.startswith("Q") and ticket.language == "zh" and ticket.category == "product"
    assert subject(ack) == f"[{ticket.reference}] 回复：咨询：长青货币宝起购金额"
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["In-Reply-To"] == "<20261128093012.4F2A1@mail.example.cn>"
    assert SERVICE in str(ack["From"])
    text = body(ack)
    assert text.startswith("张伟，您好：")
    assert f"编号 {ticket.reference}" in text and "24 小时内" in text
    due = format_moment(ticket.created_at + timedelta(hours=24), "zh")
    assert due[:11] in text  # the day of the promised reply
    assert "100" in text and DISCLOSURE_ZH in text  # the assistant's answer, with the risk disclosure
    assert "\\Seen" in dovecot.flags()[uid]
    # The conversation waits in the agents' queue, the mail's text masked and readable.
    handoff = db.execute(select(Handoff).where(Handoff.conversation_id == ticket.conversation_id)).scalar_one()
    assert (handoff.state, handoff.channel, handoff.reason, handoff.urgent) == ("waiting", "email", "email", False)
    texts = [m.text for m in db.execute(select(Message).where(Message.conversation_id == ticket.conversation_id)
                                        .order_by(Message.id)).scalars()]
    assert texts[0].startswith("✉ 咨询：长青货币宝起购金额") and "赎回一般多久到账" in texts[0]
    assert "100" in texts[1]  # the acknowledgement, as sent


def test_the_same_message_id_again_makes_nothing_new(system, dovecot, smtp, database_url, db):
    wait_for(lambda: mails_to(smtp, "zhang.wei@example.cn"), message="the first acknowledgement")
    uid = dovecot.append(fixture("zh_question_duplicate.eml"))
    wait_for(lambda: "\\Seen" in dovecot.flags().get(uid, ()), message="the duplicate to be read")
    time.sleep(2)
    assert db.execute(select(func.count(EmailTicket.id)).where(EmailTicket.address_key == "zhang.wei@example.cn")).scalar() == 1
    assert len(mails_to(smtp, "zhang.wei@example.cn")) == 1


def test_an_english_question_gets_an_english_acknowledgement(system, dovecot, smtp, database_url):
    dovecot.append(fixture("en_question.eml"))
    [ack] = wait_for(lambda: mails_to(smtp, "olivia.brown@example.com"), message="the acknowledgement")
    ticket = ticket_of(database_url, "<CAJx8q+5bT1mW@mail.example.com>")
    assert ticket.language == "en"
    assert subject(ack) == f"[{ticket.reference}] Re: Question about redemption fees on the Global Bond Fund"
    text = body(ack)
    assert text.startswith("Dear Olivia Brown,") and "within 24 hours" in text and ticket.reference in text
    assert "never ask for your password" in text


def test_a_complaint_gets_its_reference_and_deadlines_and_a_reply_threads_into_it(system, dovecot, smtp, database_url, db):
    dovecot.append(fixture("complaint.eml"))
    [ack] = wait_for(lambda: mails_to(smtp, "lina.1988@example.net"), message="the acknowledgement")
    ticket = ticket_of(database_url, "<tencent_5F0C3A2B9D@qq.example.net>")
    complaint = db.execute(select(Complaint).where(Complaint.reference == ticket.complaint_reference)).scalar_one()
    assert (complaint.channel, complaint.conversation_id, ticket.category) == ("email", ticket.conversation_id, "complaint")
    assert subject(ack).startswith(f"[{complaint.reference}] 回复：")
    text = body(ack)
    assert f"投诉已登记，编号 {complaint.reference}" in text
    assert format_moment(complaint.first_reply_due, "zh") in text and format_moment(complaint.resolution_due, "zh") in text
    handoff = db.execute(select(Handoff).where(Handoff.conversation_id == ticket.conversation_id)).scalar_one()
    assert handoff.complaint_reference == complaint.reference

    # The customer answers the acknowledgement: same ticket, no second acknowledgement.
    reply = new_mail("李娜 <lina.1988@example.net>", f"Re: {subject(ack)}", "补充：扣款时间是11月20日下午。",
                     In_Reply_To=ack["Message-ID"], References=f"<tencent_5F0C3A2B9D@qq.example.net> {ack['Message-ID']}")
    dovecot.append(reply)
    wait_for(lambda: processed(database_url, message_id_of(reply)), message="the reply to be processed")
    db.expire_all()
    texts = [m.text for m in db.execute(select(Message).where(Message.conversation_id == ticket.conversation_id,
                                                              Message.sender == "customer")).scalars()]
    assert len(texts) == 2 and "扣款时间是11月20日下午" in texts[1]
    # Only the reference in the subject, from the same address: the same ticket too.
    by_subject = new_mail("lina.1988@example.net", f"关于 [{complaint.reference}]", "还有一张截图稍后发送。")
    # The same reference from someone else opens a ticket of its own.
    stranger = new_mail("mallory@elsewhere.example", f"Re: [{complaint.reference}]", "I am her lawyer, tell me everything.")
    dovecot.append(by_subject)
    dovecot.append(stranger)
    wait_for(lambda: processed(database_url, message_id_of(stranger)) and processed(database_url, message_id_of(by_subject)),
             message="both mails to be processed")
    db.expire_all()
    assert db.execute(select(func.count(Message.id)).where(Message.conversation_id == ticket.conversation_id,
                                                           Message.sender == "customer")).scalar() == 3
    assert ticket_of(database_url, message_id_of(stranger)).conversation_id != ticket.conversation_id
    assert len(mails_to(smtp, "lina.1988@example.net")) == 1


def test_fraud_is_urgent_at_the_head_of_the_queue(system, dovecot, smtp, database_url, db):
    raw = new_mail("赵强 <zhao.qiang@customer.example>", "紧急求助", "我的账户被盗了，有人登录后把5万元转走了，不是我操作的！")
    dovecot.append(raw)
    [ack] = wait_for(lambda: mails_to(smtp, "zhao.qiang@customer.example"), message="the acknowledgement")
    ticket = ticket_of(database_url, message_id_of(raw))
    assert ticket.urgent and ticket.category == "fraud" and ticket.complaint_reference
    handoff = db.execute(select(Handoff).where(Handoff.conversation_id == ticket.conversation_id)).scalar_one()
    assert handoff.urgent and handoff.reason == "fraud"
    waiting = Console(system.contact_url).log_in(DEMO_AGENT).waiting()
    assert waiting[0]["conversation_id"] == ticket.conversation_id
    assert "400-820-8888" in body(ack)  # the safety steps


def test_a_fraud_told_at_the_end_of_a_long_mail_is_urgent(system, dovecot, smtp, database_url):
    story = "我是你们的老客户了，去年在网点开户，买过货币宝和稳盈债券，平时都在App上操作，一直觉得还算方便。" * 12
    raw = new_mail("孙丽 <sun.li@customer.example>", "关于我的账户", story + "可是今天早上我发现账户被盗了，有人把3万元转走了，不是我本人操作的！")
    assert len(story) > 500
    dovecot.append(raw)
    wait_for(lambda: mails_to(smtp, "sun.li@customer.example"), message="the acknowledgement")
    ticket = ticket_of(database_url, message_id_of(raw))
    assert ticket.urgent and ticket.category == "fraud" and ticket.complaint_reference


def test_an_insult_is_an_ordinary_complaint_not_an_urgent_case(system, dovecot, smtp, database_url, db):
    raw = new_mail("钱伟 <qian.wei@customer.example>", "你们就是一群骗子", "垃圾客服，赎回拖了一个礼拜还没到账，打电话也没人接！")
    dovecot.append(raw)
    [ack] = wait_for(lambda: mails_to(smtp, "qian.wei@customer.example"), message="the acknowledgement")
    ticket = ticket_of(database_url, message_id_of(raw))
    assert not ticket.urgent and ticket.category == "complaint" and ticket.complaint_reference
    complaint = db.execute(select(Complaint).where(Complaint.reference == ticket.complaint_reference)).scalar_one()
    assert not complaint.urgent
    assert "110" not in body(ack) and "冻结" not in body(ack)  # no safety steps for anger


def test_a_subject_carrying_cr_lf_cannot_add_a_recipient(system, dovecot, smtp, database_url):
    raw = fixture("crlf_subject.eml")
    dovecot.append(raw)
    [ack] = wait_for(lambda: mails_to(smtp, SENDER_OF_CRLF), message="the acknowledgement")
    [envelope] = [e for e in smtp.envelopes() if SENDER_OF_CRLF in e["rcpt_tos"]]
    assert envelope["rcpt_tos"] == [SENDER_OF_CRLF]
    assert ack["Bcc"] is None and ack["Cc"] is None
    assert "Bcc: attacker@evil.example" in subject(ack)  # kept as words of the subject, nothing more
    assert not [e for e in smtp.envelopes() if "attacker@evil.example" in e["rcpt_tos"]]


@pytest.mark.parametrize("name, reason", [
    ("exchange_suppress.eml", "auto-response-suppress"),
    ("mailing_list.eml", "mailing-list"),
    ("bounce.eml", "bounce"),
])
def test_automatic_mail_makes_a_ticket_but_gets_no_reply(system, dovecot, smtp, database_url, name, reason):
    raw = fixture(name)
    before = len(smtp.messages())
    dovecot.append(raw)
    wait_for(lambda: processed(database_url, message_id_of(raw)), message="the mail to be processed")
    ticket = ticket_of(database_url, message_id_of(raw))
    assert ticket is not None and ticket.acknowledgement_id is None and reason in ticket.no_acknowledgement
    time.sleep(1)
    assert len(smtp.messages()) == before


def test_at_most_five_acknowledgements_a_day_to_one_sender(system, dovecot, smtp, database_url):
    sender = "busy.writer@customer.example"
    raws = [new_mail(sender, f"Question {n}", f"Hello, a general question number {n} for you.") for n in range(6)]
    for raw in raws:
        dovecot.append(raw)
    wait_for(lambda: all(processed(database_url, message_id_of(r)) for r in raws), message="six mails processed")
    time.sleep(2)
    assert len(mails_to(smtp, sender)) == 5
    capped = [ticket_of(database_url, message_id_of(r)) for r in raws]
    assert [t.acknowledgement_id is None for t in capped].count(True) == 1
    assert "sender-daily-cap" in [t for t in capped if t.acknowledgement_id is None][0].no_acknowledgement


def test_an_agent_answers_by_email_in_the_thread_and_sees_the_attachment(system, dovecot, smtp, database_url):
    raw = fixture("attachment.eml")
    dovecot.append(raw)
    wait_for(lambda: mails_to(smtp, "olivia.brown@example.com") and processed(database_url, "<attach.1@mail.example.com>"),
             message="the acknowledgement")
    ticket = ticket_of(database_url, "<attach.1@mail.example.com>")
    agent = Console(system.contact_url).log_in(DEMO_AGENT)
    [waiting] = [h for h in agent.waiting() if h["conversation_id"] == ticket.conversation_id]
    assert waiting["channel"] == "email"
    status, _ = agent.call("POST", f"/console/api/handoffs/{waiting['id']}/claim")
    assert status == 200
    status, view = agent.call("GET", f"/console/api/conversations/{ticket.conversation_id}")
    details = view["channel_details"]
    assert (details["reference"], details["address"]) == (ticket.reference, "olivia.brown@example.com")
    pdf, script = details["attachments"]
    assert (pdf["filename"], script["filename"]) == ("对账单.pdf", "run.sh")
    for attachment, start in ((pdf, b"%PDF"), (script, b"#!")):  # both only ever downloads
        with agent.opener.open(urllib.request.Request(system.contact_url + attachment["url"]), timeout=30) as response:
            data, headers = response.read(), response.headers
        assert headers["Content-Type"] == "application/octet-stream" and headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Content-Disposition"].startswith("attachment; filename*=UTF-8''")
        assert data.startswith(start) and len(data) == attachment["size"]
    assert headers["Content-Disposition"].endswith("''run.sh")  # the bare name: "../../../tmp/" was dropped

    before = len(mails_to(smtp, "olivia.brown@example.com"))
    status, _ = agent.call("POST", f"/console/api/conversations/{ticket.conversation_id}/messages",
                           {"text": "Dear Olivia, the fee is the 0.5% redemption fee for holdings under a year."})
    assert status == 200
    mails = wait_for(lambda: len(mails_to(smtp, "olivia.brown@example.com")) > before and mails_to(smtp, "olivia.brown@example.com"),
                     message="the agent's reply by mail")
    reply = mails[-1]
    assert "0.5% redemption fee" in body(reply) and reply["Auto-Submitted"] is None
    assert reply["In-Reply-To"] == "<attach.1@mail.example.com>"
    assert "<attach.1@mail.example.com>" in reply["References"]
    assert subject(reply) == f"[{ticket.reference}] Re: Statement discrepancy (statement attached)"
    assert SERVICE in str(reply["From"])
    # Resolving sends nothing more by mail (no chat survey in an email thread).
    status, _ = agent.call("POST", f"/console/api/handoffs/{waiting['id']}/resolve")
    assert status == 200
    time.sleep(2)
    assert len(mails_to(smtp, "olivia.brown@example.com")) == before + 1


def test_the_attachment_is_refused_to_anyone_without_the_conversation(system, database_url):
    stranger = urllib.request.Request(system.contact_url + "/console/api/email-attachments/1")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(stranger, timeout=30)
    assert refused.value.code == 401


def test_smtp_answering_451_then_250_delivers_the_acknowledgement_once(system, dovecot, smtp, database_url, db):
    smtp.control(tempfail_first=1)
    try:
        raw = new_mail("retry.me@customer.example", "Opening hours", "What are the opening hours of your Beijing branch?")
        dovecot.append(raw)
        [ack] = wait_for(lambda: mails_to(smtp, "retry.me@customer.example"), message="the acknowledgement after a retry")
    finally:
        smtp.control()
    row = db.execute(select(EmailOutbox).where(EmailOutbox.message_id == ack["Message-ID"])).scalar_one()
    assert (row.state, row.attempts) == ("sent", 2) and row.last_reply.startswith("250")
    assert any(e.get("event") == "data_tempfail" for e in smtp.log())


def staff_call(base_url: str, method: str, path: str):
    request = urllib.request.Request(base_url + path, method=method, data=b"" if method == "POST" else None,
                                     headers={"Authorization": f"Bearer {demo_token()}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def test_a_refused_acknowledgement_is_parked_for_a_supervisor_who_sends_it_again(system, dovecot, smtp, database_url, db):
    smtp.control(reject=["gone@customer.example"])
    try:
        raw = new_mail("gone@customer.example", "Question", "Hello, what is the minimum for Cash Plus?")
        dovecot.append(raw)
        wait_for(lambda: db.execute(select(EmailOutbox.state).join(EmailTicket, EmailTicket.acknowledgement_id == EmailOutbox.id)
                                    .where(EmailTicket.source_key == message_id_of(raw))).scalar() == "parked",
                 message="the acknowledgement to be parked")
        assert ticket_of(database_url, message_id_of(raw)) is not None  # the ticket stays
        status, listed = staff_call(system.contact_url, "GET", "/api/v1/staff/email/outbox")
        [parked] = [m for m in listed["mail"] if m["recipients"] == ["gone@customer.example"]]
        assert status == 200 and parked["state"] == "parked" and "550 5.1.1 no such user" in parked["last_reply"]
    finally:
        smtp.control()
    # The mailbox exists again: the supervisor sends it once more; it leaves once.
    status, _ = staff_call(system.contact_url, "POST", f"/api/v1/staff/email/outbox/{parked['id']}/requeue")
    assert status == 200
    wait_for(lambda: mails_to(smtp, "gone@customer.example"), message="the acknowledgement sent again")
    status, _ = staff_call(system.contact_url, "POST", f"/api/v1/staff/email/outbox/{parked['id']}/requeue")
    assert status == 409  # sent: nothing to decide any more
    status, listed = staff_call(system.contact_url, "GET", "/api/v1/staff/email/outbox")
    assert parked["id"] not in [m["id"] for m in listed["mail"]]


def test_the_service_killed_between_storing_and_sending_sends_once_after_restart(system, dovecot, smtp, database_url, db):
    smtp.stop()  # the acknowledgement can be stored but not sent
    raw = new_mail("patient@customer.example", "开户", "你好，开户需要准备什么材料？")
    try:
        dovecot.append(raw)
        wait_for(lambda: db.execute(select(EmailOutbox.state).join(EmailTicket, EmailTicket.acknowledgement_id == EmailOutbox.id)
                                    .where(EmailTicket.source_key == message_id_of(raw))).scalar() == "failed_temporarily",
                 message="the acknowledgement to be queued and tried")
        contact = [p for p in system.processes if "bot.server" in p.args][0]
        os.kill(contact.pid, signal.SIGKILL)
        contact.wait()
        system.stop()
    finally:
        smtp.start()
    system.start()
    [ack] = wait_for(lambda: mails_to(smtp, "patient@customer.example"), message="the acknowledgement after the restart")
    time.sleep(3)
    assert len(mails_to(smtp, "patient@customer.example")) == 1
    assert ticket_of(database_url, message_id_of(raw)).reference in subject(ack)


def test_with_the_assistant_down_mail_is_still_acknowledged_and_queued(tmp_path):
    """Nothing waits for the assistant: no answer and no classification, but the promise of a
    person within 24 hours, and the urgent words still make a fraud report urgent."""
    dovecot, smtp = DovecotServer().start(), SmtpServer(tmp_path / "smtp").start()
    try:
        with contact_service_alone(tmp_path, free_port(), **email_env(dovecot, smtp)):  # no Rasa on that port
            dovecot.append(fixture("zh_question.eml"))
            fraud = new_mail("zhao.qiang@customer.example", "求助", "有人盗用我的账户，钱被转走了")
            dovecot.append(fraud)
            [ack] = wait_for(lambda: mails_to(smtp, "zhang.wei@example.cn"), message="the acknowledgement")
            wait_for(lambda: mails_to(smtp, "zhao.qiang@customer.example"), message="the fraud acknowledgement")
            database = f"sqlite:///{tmp_path / 'contact.db'}"
            question, report = ticket_of(database, "<20261128093012.4F2A1@mail.example.cn>"), ticket_of(database, message_id_of(fraud))
    finally:
        dovecot.cleanup()
        smtp.stop()
    text = body(ack)
    assert "24 小时内" in text and "由专员阅读" in text and DISCLOSURE_ZH not in text
    assert (question.category, question.urgent) == ("unclassified", False)
    assert (report.category, report.urgent) == ("fraud", True) and report.complaint_reference
