"""Which fixtures may get the automatic acknowledgement, and for the others the reason why."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from channels.email.autoreply import auto_reply_verdict
from channels.email.reading import read_email


FIXTURES = Path(__file__).parent / "fixtures"
OURS = ["service@evergreen-wealth.example", "Complaints@Evergreen-Wealth.example"]
OUR_DOMAINS = ["evergreen-wealth.example"]


def verdict(raw: bytes, **counts):
    return auto_reply_verdict(read_email(raw), own_addresses=OURS, own_message_id_domains=OUR_DOMAINS, **counts)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def with_headers(name: str, *lines: str) -> bytes:
    return "".join(f"{line}\r\n" for line in lines).encode() + fixture(name)


@pytest.mark.parametrize(
    "name",
    ["zh_question.eml", "zh_question_duplicate.eml", "en_question.eml", "complaint.eml", "gbk_body.eml",
     "big5_body.eml", "crlf_subject.eml", "reply_to_ack.eml", "html_only.eml", "attachment.eml",
     "attachment_over_limit.eml"],
)
def test_customers_mail_may_be_acknowledged(name):
    result = verdict(fixture(name))
    assert result.allowed and result.reason is None and result.reasons == ()


@pytest.mark.parametrize(
    "name, reasons",
    [
        ("out_of_office.eml", ["auto-submitted: auto-replied"]),
        ("exchange_suppress.eml", ["auto-response-suppress: All"]),
        ("mailing_list.eml", ["precedence: list", "mailing-list: List-Id, List-Unsubscribe, List-Unsubscribe-Post"]),
        ("bounce.eml", ["auto-submitted: auto-replied", "empty-return-path: <>", "bounce: multipart/report",
                        "system-sender: MAILER-DAEMON@mx1.evergreen-wealth.example"]),
    ],
)
def test_machines_and_lists_are_not_answered(name, reasons):
    result = verdict(fixture(name))
    assert not result.allowed
    assert list(result.reasons) == reasons
    assert result.reason == reasons[0]


@pytest.mark.parametrize(
    "header, code",
    [
        ("Auto-Submitted: auto-generated", "auto-submitted"),
        ("Auto-Submitted: auto-notified; owner-email=x@example.com", "auto-submitted"),
        ("Precedence: bulk", "precedence"),
        ("Precedence: junk", "precedence"),
        ("List-Unsubscribe: <mailto:leave@lists.example.org>", "mailing-list"),
        ("List-Post: <mailto:group@lists.example.org>", "mailing-list"),
        ("X-Auto-Response-Suppress: AutoReply", "auto-response-suppress"),
        ("X-Auto-Response-Suppress: OOF, AutoReply", "auto-response-suppress"),
        ("X-Autoreply: yes", "autoreply-header"),
        ("X-Autorespond: Out of office", "autoreply-header"),
        ("X-Auto-Reply: true", "autoreply-header"),
        ("X-Loop: service@evergreen-wealth.example", "x-loop"),
        ("Return-Path: <>", "empty-return-path"),
        ("X-Failed-Recipients: wrong.address@example.cn", "bounce"),
    ],
)
def test_each_header_rule_alone(header, code):
    raw = fixture("en_question.eml").replace(b"Return-Path: <olivia.brown@example.com>\r\n", b"")
    result = verdict(header.encode() + b"\r\n" + raw)
    assert result.codes == (code,), result.reasons


def test_auto_submitted_no_is_still_answered_but_any_suppression_is_not():
    # Auto-Submitted: no is a person's mail (RFC 3834); any X-Auto-Response-Suppress refuses.
    assert verdict(with_headers("en_question.eml", "Auto-Submitted: no")).allowed
    assert verdict(with_headers("en_question.eml", "X-Auto-Response-Suppress: DR, RN, NRN")).codes == ("auto-response-suppress",)
    assert verdict(with_headers("en_question.eml", "Precedence: first-class")).allowed


@pytest.mark.parametrize(
    "sender",
    ["MAILER-DAEMON@mail.example.cn", "postmaster@example.com", "noreply@bank.example", "no-reply@notify.example",
     "no_reply+abc@shop.example", "do-not-reply@example.com", "DoNotReply@example.com", "noreply-alerts@example.com"],
)
def test_system_senders_are_not_answered(sender):
    raw = fixture("en_question.eml").replace(b"olivia.brown@example.com", sender.encode())
    assert verdict(raw).codes == ("system-sender",)


def test_not_a_system_sender():
    raw = fixture("en_question.eml").replace(b"olivia.brown@example.com", b"noreen.ply@example.com")
    assert verdict(raw).allowed


def test_our_own_addresses_and_message_ids_are_not_answered():
    raw = fixture("en_question.eml").replace(b"From: Olivia Brown <olivia.brown@example.com>", b"From: complaints@evergreen-wealth.EXAMPLE")
    assert verdict(raw).codes == ("own-address",)
    # A customer whose Reply-To points at us: the reply would come back to us.
    assert verdict(with_headers("en_question.eml", "Reply-To: service@evergreen-wealth.example")).codes == ("own-address",)
    raw = fixture("en_question.eml").replace(b"<CAJx8q+5bT1mW@mail.example.com>", b"<ack-Q20261128-0001@evergreen-wealth.example>")
    assert verdict(raw).codes == ("own-message",)


def test_no_usable_sender_is_not_answered():
    raw = fixture("en_question.eml").replace(b"From: Olivia Brown <olivia.brown@example.com>", b"From: Olivia Brown")
    assert verdict(raw).codes == ("no-sender",)


def test_autoreply_subjects_without_headers():
    for subject in ("自动回复：您好，我已收到您的邮件", "Automatic reply: Question", "Out of Office: back Monday"):
        encoded = f"=?UTF-8?B?{base64.b64encode(subject.encode()).decode()}?="
        raw = fixture("en_question.eml").replace(b"Question about redemption fees on the Global Bond Fund", encoded.encode())
        assert verdict(raw).codes == ("autoreply-subject",), subject
    assert verdict(fixture("en_question.eml").replace(b"Question about", b"Reply about")).allowed


def test_caps_counted_by_the_store_plug_in():
    raw = fixture("zh_question.eml")
    assert verdict(raw, acks_for_ticket=0, acks_to_sender_today=4).allowed
    assert verdict(raw, acks_for_ticket=1, acks_to_sender_today=0).codes == ("ticket-acknowledged",)
    assert verdict(raw, acks_for_ticket=0, acks_to_sender_today=5).codes == ("sender-daily-cap",)



@pytest.mark.parametrize("name, automated", [
    ("out_of_office.eml", True), ("mailing_list.eml", True), ("bounce.eml", True),
    ("exchange_suppress.eml", False),  # a corporate customer's real request: not answered, but queued
    ("zh_question.eml", False),
])
def test_which_reasons_mark_machine_mail(name, automated):
    assert bool(verdict(fixture(name)).automated) is automated


def test_the_caps_mark_no_machine_mail():
    assert verdict(fixture("zh_question.eml"), acks_for_ticket=1, acks_to_sender_today=5).automated == ()
