"""The email outbox's table (migration ``0012_email_outbox``); the rules are in ``outbox.py``.

One row per outgoing mail, holding the complete RFC 5322 message exactly as it will be sent, so
what the worker sends is what was committed. ``state`` moves

    queued ──claim──▶ sending ──250──▶ sent
       ▲                 │ 4xx, refused, timeout before DATA
       └─ failed_temporarily ◀┘   (next_attempt_at, attempts; parked after too many)
    sending ──5xx──▶ parked            (last_reply: the server's answer; never retried)
    sending ──(process gone)──▶ uncertain   (may or may not have been accepted: an operator decides)
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, LargeBinary, String, Text

from bot.complaints.models import ShanghaiTime
from bot.contact.models import Base

QUEUED = "queued"
SENDING = "sending"
SENT = "sent"
FAILED_TEMPORARILY = "failed_temporarily"
PARKED = "parked"
UNCERTAIN = "uncertain"
STATES = (QUEUED, SENDING, SENT, FAILED_TEMPORARILY, PARKED, UNCERTAIN)
DUE_STATES = (QUEUED, FAILED_TEMPORARILY)  # what a worker may claim once next_attempt_at has come
ATTENTION_STATES = (PARKED, UNCERTAIN)  # what an operator must look at


class EmailOutbox(Base):
    __tablename__ = "email_outbox"
    __table_args__ = (Index("ix_email_outbox_due", "state", "next_attempt_at"),)
    id = Column(Integer, primary_key=True, autoincrement=True)
    message_id = Column(String(255), nullable=False, unique=True)  # ours, "<...@our.domain>"
    envelope_from = Column(String(320), nullable=False)  # MAIL FROM
    recipients = Column(JSON, nullable=False)  # RCPT TO, a list of addresses
    subject = Column(Text, nullable=False, default="")  # decoded, for operators' lists
    message = Column(LargeBinary, nullable=False)  # the complete message, CRLF line ends
    conversation_id = Column(String(80), ForeignKey("conversations.id"), index=True)
    ticket_ref = Column(String(40), index=True)  # a complaint reference or an inquiry reference
    state = Column(String(20), nullable=False, default=QUEUED)
    attempts = Column(Integer, nullable=False, default=0)  # sending attempts started
    next_attempt_at = Column(ShanghaiTime, nullable=False)
    claimed_by = Column(String(80))  # the worker that holds (or last held) the row
    claimed_at = Column(ShanghaiTime)
    last_reply = Column(Text)  # the last SMTP reply or network error, for operators
    created_at = Column(ShanghaiTime, nullable=False)
    updated_at = Column(ShanghaiTime, nullable=False)
    sent_at = Column(ShanghaiTime)
