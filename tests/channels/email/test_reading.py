"""Reading the .eml corpus: what an agent would see of each mail (subject, names, text,
references, attachments), and that nothing read from a mail can break a header."""

from __future__ import annotations

import base64
from datetime import timedelta, timezone
from pathlib import Path

import pytest

from channels.email.reading import MAX_ATTACHMENT_BYTES, InboundEmail, read_email


FIXTURES = Path(__file__).parent / "fixtures"
ALL = sorted(path.name for path in FIXTURES.glob("*.eml"))
CST = timezone(timedelta(hours=8))


def read(name: str, **options) -> InboundEmail:
    return read_email((FIXTURES / name).read_bytes(), **options)


def test_plain_chinese_question_utf8_base64():
    mail = read("zh_question.eml")
    assert mail.message_id == "<20261128093012.4F2A1@mail.example.cn>"
    assert not mail.message_id_generated
    assert (mail.sender.address, mail.sender.name) == ("zhang.wei@example.cn", "张伟")
    assert [(a.address, a.name) for a in mail.to] == [("service@evergreen-wealth.example", "长青财富客服")]
    assert mail.subject == "咨询：长青货币宝起购金额"
    assert mail.text == "您好，\n\n请问长青货币宝的起购金额是多少？赎回一般多久到账？\n\n谢谢！\n张伟"
    assert mail.date.isoformat() == "2026-11-28T09:30:12+08:00"
    assert mail.reference is None and mail.in_reply_to == () and mail.attachments == ()


def test_plain_english_question_quoted_printable():
    mail = read("en_question.eml")
    assert (mail.sender.address, mail.sender.name) == ("olivia.brown@example.com", "Olivia Brown")
    assert mail.subject == "Question about redemption fees on the Global Bond Fund"
    assert "whether there’s a lock-up period?" in mail.text  # =E2=80=99 decoded, soft breaks joined
    assert "=\n" not in mail.text and "=E2" not in mail.text
    assert mail.date.utcoffset() == timedelta(hours=-5)
    assert mail.date.astimezone(CST).isoformat() == "2026-11-28T10:11:58+08:00"


def test_complaint_multipart_alternative_prefers_the_plain_part():
    mail = read("complaint.eml")
    assert mail.sender.name == "李娜"
    assert mail.subject == "投诉：理财经理未经同意替我购买产品"
    assert mail.text.startswith("你好，\n\n上周五（11月20日）我在浦东支行办理业务时")
    assert "<p>" not in mail.text and not mail.text_from_html
    assert mail.text.count("理财经理未经我同意") == 1  # one alternative, not both


def test_gbk_body_and_gb2312_subject_with_a_gbk_only_character():
    # 喆 is in GBK but not in GB2312: the GB2312 label is read as GB18030, its superset.
    mail = read("gbk_body.eml")
    assert mail.subject == "王喆咨询：稳健理财180天"
    assert mail.sender.name == "王喆"
    assert mail.text.startswith("客服您好：\n\n我是王喆，想问一下长青稳健理财180天的业绩比较基准是多少")
    assert "\ufffd" not in mail.text + mail.subject


def test_big5_with_a_hkscs_character():
    mail = read("big5_body.eml")
    assert mail.subject == "查詢長青貨幣寶贖回"
    assert mail.sender.name == "陳大文"
    assert "我住在石硤尾邨，想查詢長青貨幣寶的贖回到賬時間" in mail.text  # 邨 is HKSCS
    assert "\ufffd" not in mail.text


def test_encoded_subject_carrying_crlf_cannot_inject_a_header():
    mail = read("crlf_subject.eml")
    assert mail.subject == "账户被冻结，请回复 Bcc: attacker@evil.example 紧急"
    # The name's Q-encoded CR LF and its "Bcc: …@…" neither break the line nor become the address.
    assert mail.sender.address == "li.ming@example.org"
    assert mail.sender.name == "Li Ming Bcc: attacker@evil.example"
    assert [a.address for a in mail.to] == ["service@evergreen-wealth.example"]


@pytest.mark.parametrize("name", ALL)
def test_no_control_characters_in_any_reusable_field(name):
    mail = read(name)
    single_lines = [mail.subject, mail.message_id, *mail.in_reply_to, *mail.references]
    single_lines += [a.name for a in (mail.sender, *mail.to, *mail.cc, *mail.reply_to) if a]
    single_lines += [a.address for a in (mail.sender, *mail.to, *mail.cc, *mail.reply_to) if a]
    single_lines += [f.filename for f in mail.attachments] + [value for _, value in mail.headers]
    for value in single_lines:
        assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 or ch in "\u2028\u2029\u202e\u200b" for ch in value), (name, value)
    assert "\r" not in mail.text and "\x00" not in mail.text


def test_duplicate_has_the_same_message_id():
    original, again = read("zh_question.eml"), read("zh_question_duplicate.eml")
    assert again.message_id == original.message_id == "<20261128093012.4F2A1@mail.example.cn>"
    assert again.header("Delivered-To") != original.header("Delivered-To")  # delivered twice


def test_message_without_message_id_gets_a_stable_generated_one():
    raw = (FIXTURES / "en_question.eml").read_bytes().replace(b"Message-ID: <CAJx8q+5bT1mW@mail.example.com>\r\n", b"")
    first = read_email(raw)
    assert first.message_id_generated and first.message_id.endswith("@generated.invalid>")
    # Fetched again with another Received line in front: the same id.
    assert read_email(b"Received: from relay2.example by mx2.example; Sat, 28 Nov 2026 10:15:00 +0800\r\n" + raw).message_id == first.message_id
    other = read_email(raw.replace(b"Many thanks", b"Thanks"))
    assert other.message_id != first.message_id


def test_reply_to_our_acknowledgement_threads_by_reference_and_ids():
    mail = read("reply_to_ack.eml")
    assert mail.subject == "Re: [C20261128-0007] 已收到您的投诉 / Complaint received"  # two folded encoded words
    assert mail.reference == "C20261128-0007" and mail.subject_references == ("C20261128-0007",)
    assert mail.in_reply_to == ("<ack-C20261128-0007.1@evergreen-wealth.example>",)
    assert mail.references == ("<tencent_5F0C3A2B9D@qq.example.net>", "<ack-C20261128-0007.1@evergreen-wealth.example>")
    assert mail.thread_ids[0] == "<ack-C20261128-0007.1@evergreen-wealth.example>"
    # The whole text is kept; the ticket shows only what is new.
    assert "> 我们会在24小时内由专人回复您。" in mail.text
    assert mail.new_text == "补充一下：那笔5万元是11月20日下午扣款的，交易流水号 20261120-88123。"


def test_inquiry_reference_and_full_width_brackets():
    mail = read("out_of_office.eml")
    assert mail.subject_references == ("Q20261128-0003",)
    raw = (FIXTURES / "en_question.eml").read_bytes().replace(
        b"Subject: Question about", "Subject: 回复：【c20261128-0012】 and [Q20261127-0001] question about".encode("utf-8"))
    assert read_email(raw).subject_references == ("C20261128-0012", "Q20261127-0001")
    # Not a reference: no brackets, or a booking reference.
    raw = (FIXTURES / "en_question.eml").read_bytes().replace(b"Subject: Question about", b"Subject: C20261128-0007 [CB20261128-0001] about")
    assert read_email(raw).subject_references == ()


def test_html_only_mail_becomes_sanitised_readable_text():
    mail = read("html_only.eml")
    assert mail.text_from_html
    assert mail.text == (
        "Dear Evergreen,\n\n"
        "Is the minimum for Cash Plus ¥1,000 & can I redeem on weekends? 5 < 10 中文\n\n"
        "- Account: premier\n- Branch: Shanghai\n\n"
        "my statement <https://example.com/statement>\n\n"
        "Thanks,\nWei Chen"
    )
    for absent in ("script", "document.cookie", "alert", "color: red", "hidden tracking", "<p", "Inquiry", "&amp;", "\xa0"):
        assert absent not in mail.text
    assert mail.sender.name == "Chen, Wei"


def test_attachments_kept_with_clean_names_and_bytes():
    mail = read("attachment.eml")
    assert mail.text.startswith("Hello, the attached statement shows a fee I did not expect.")
    pdf, script = mail.attachments
    assert (pdf.filename, pdf.content_type) == ("对账单.pdf", "application/pdf")  # RFC 2231 name
    assert pdf.data.startswith(b"%PDF-1.4") and pdf.size == len(pdf.data)
    assert (script.filename, script.content_type) == ("run.sh", "application/x-sh")  # no path
    assert script.data == b"#!/bin/sh\nrm -rf ~\n"  # kept as bytes, never run
    assert mail.dropped_attachments == () and mail.notes == ()


def test_attachments_over_the_limit_are_dropped_with_a_note():
    mail = read("attachment_over_limit.eml")  # 2 KB photo, 150 KB video: both fit 10 MB
    assert [(a.filename, a.size) for a in mail.attachments] == [("queue.jpg", 2061), ("queue.mp4", 150_000)]

    mail = read("attachment_over_limit.eml", max_attachment_bytes=100_000)
    assert [a.filename for a in mail.attachments] == ["queue.jpg"]
    (dropped,) = mail.dropped_attachments
    assert (dropped.filename, dropped.content_type, dropped.size) == ("queue.mp4", "video/mp4", 150_000)
    assert mail.notes == ("Attachment queue.mp4 (150000 bytes) was dropped: over the limit of 100000 bytes of attachments per mail.",)
    assert mail.text == "A photo and a video of the queue at the branch."


def test_default_limit_is_ten_megabytes_per_mail():
    assert MAX_ATTACHMENT_BYTES == 10 * 1024 * 1024
    big = base64.encodebytes(b"\0" * (MAX_ATTACHMENT_BYTES - 1000)).decode()
    raw = (
        "From: a@example.com\r\nTo: service@evergreen-wealth.example\r\nSubject: files\r\nMessage-ID: <big@example.com>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nsee files\r\n"
        "--B\r\nContent-Type: application/zip\r\nContent-Disposition: attachment; filename=a.zip\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        f"{big}\r\n--B\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=b.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        f"{base64.encodebytes(b'%PDF' + bytes(2000)).decode()}\r\n--B--\r\n"
    ).encode()
    mail = read_email(raw)
    assert [a.filename for a in mail.attachments] == ["a.zip"]
    assert [d.filename for d in mail.dropped_attachments] == ["b.pdf"]


def test_bounce_report_is_read_and_its_parts_kept_as_files():
    mail = read("bounce.eml")
    assert mail.content_type == "multipart/report"
    assert "message/delivery-status" in mail.part_types
    assert "Recipient address rejected: User unknown" in mail.text
    assert [a.content_type for a in mail.attachments] == ["message/delivery-status", "text/rfc822-headers"]
    assert b"Status: 5.1.1" in mail.attachments[0].data


@pytest.mark.parametrize(
    "label, body, expected",
    [
        ("utf-8", "您好，请问长青货币宝".encode("gbk"), "您好，请问长青货币宝"),  # GBK labelled UTF-8
        ("gb2312", "您好，请问长青货币宝".encode("utf-8"), "您好，请问长青货币宝"),  # UTF-8 labelled GB2312
        ("x-no-such-charset", "请问赎回多久到账".encode("utf-8"), "请问赎回多久到账"),
        ("us-ascii", "Olivia’s question".encode("utf-8"), "Olivia’s question"),
        ("big5", "贖回到賬".encode("big5"), "贖回到賬"),
    ],
)
def test_wrong_or_unknown_charset_labels_fall_back_without_crashing(label, body, expected):
    raw = (f"From: a@example.com\r\nSubject: x\r\nMessage-ID: <x@example.com>\r\nContent-Type: text/plain; charset={label}\r\n"
           "Content-Transfer-Encoding: 8bit\r\n\r\n").encode() + body
    assert read_email(raw).text == expected


def test_raw_eight_bit_headers_and_broken_input_do_not_crash():
    raw = "From: 张伟 <zw@example.cn>\r\nSubject: 赎回问题\r\nDate: not a date\r\n\r\nhi".encode("gbk")
    mail = read_email(raw)
    assert (mail.subject, mail.sender.name, mail.date) == ("赎回问题", "张伟", None)
    assert read_email(b"").sender is None and read_email(b"\x00\xff garbage").message_id_generated


def test_mangled_mail_never_raises_and_never_yields_a_line_break_in_a_header_field():
    """Seeded random damage to the corpus (bytes changed, cut, or stray MIME syntax added)."""
    import random

    from channels.email.autoreply import auto_reply_verdict

    rng = random.Random(20261128)
    corpus = [(FIXTURES / name).read_bytes() for name in ALL if name != "attachment_over_limit.eml"]
    stray = [b"=?", b"?=", b"<", b">", b"\r\n", b"\x00", b"=?gb2312?B?", b"--", b'"', b":", b"\r\n\r\n",
             b"=?\xff\xfe?Q?a?=", b"\r\n ", b"Content-Type: multipart/mixed; boundary=x\r\n"]
    for _ in range(400):
        raw = bytearray(rng.choice(corpus))
        for _ in range(rng.randint(1, 20)):
            at, roll = rng.randrange(len(raw)), rng.random()
            if roll < 0.4:
                raw[at] = rng.randrange(256)
            elif roll < 0.7:
                raw[at:at] = rng.choice(stray)
            else:
                del raw[at:at + rng.randint(1, 30)]
        mail = read_email(bytes(raw))
        auto_reply_verdict(mail, own_addresses=["service@evergreen-wealth.example"])
        for value in [mail.subject, mail.message_id, *(a.name for a in mail.to), *(a.address for a in mail.to)]:
            assert "\r" not in value and "\n" not in value
