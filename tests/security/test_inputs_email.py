"""The email channel's way in stores what a hostile mail carries on both databases (issue #14,
item 5): its text is made storable by channels/email/text.py; a NUL in a part's declared
Content-Type reached the database as it was, which PostgreSQL refuses, so the mail was never
processed."""

from __future__ import annotations

import re

from sqlalchemy import select

from channels.email.models import EmailAttachment
from tests.support.mail import open_from


HOSTILE_MAIL = (
    b"From: =?utf-8?b?V2VpAA==?= <wei@customer.example>\r\nTo: service@evergreen.example\r\n"
    b"Subject: fees \xed\xa0\x80 \x00 question\r\nMessage-ID: <hostile-1@customer.example>\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=BB\r\n\r\n"
    b"--BB\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nmy fees \xed\xa0\x80 \x00 were charged twice\r\n"
    b"--BB\r\nContent-Type: application/x\x00pdf\r\nContent-Disposition: attachment; filename=\"statement\x00.pdf\"\r\n\r\n"
    b"%PDF-1.4\r\n--BB--\r\n"
)
UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


def test_a_mail_with_nul_and_surrogates_everywhere_is_stored(tickets):
    ticket, message, _ = open_from(tickets, HOSTILE_MAIL)
    assert not UNSTORABLE.search(ticket.subject + ticket.name + message.text)
    with tickets.sessions() as session:
        [attachment] = session.execute(select(EmailAttachment)).scalars().all()
        assert (attachment.filename, attachment.content_type, attachment.data) == ("statement.pdf", "application/xpdf", b"%PDF-1.4")
