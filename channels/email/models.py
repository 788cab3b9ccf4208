"""The email channel's tables. The outbox (migration ``0012_email_outbox``; the rules are in
``outbox.py``), then tickets, mails and attachments (``0013_email_tickets``, ``tickets.py``;
the tickets' state and CRM match: ``0021_email_automated``).

One row per outgoing mail, holding the complete RFC 5322 message exactly as it will be sent, so
what the worker sends is what was committed. ``state`` moves

    queued ──claim──▶ sending ──250──▶ sent
       ▲                 │ 4xx, refused, timeout before DATA
       └─ failed_temporarily ◀┘   (next_attempt_at, attempts; parked after too many)
    sending ──5xx──▶ parked            (last_reply: the server's answer; never retried)
    sending ──(process gone)──▶ uncertain   (may or may not have been accepted: an operator decides)
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, ForeignKey, Index, Integer, LargeBinary, String, Text

from bot.core.time import ShanghaiTime
from bot.core.models import Base

QUEUED = "queued"
SENDING = "sending"
SENT = "sent"
FAILED_TEMPORARILY = "failed_temporarily"
PARKED = "parked"
UNCERTAIN = "uncertain"
# Tickets: open (queued for agents like any conversation) or automated (machine mail, kept and
# searchable, never queued until an agent moves it into the queue).
OPEN, AUTOMATED = "open", "automated"
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


class EmailTicket(Base):
    """One customer issue raised by email (migration ``0013_email_tickets``).

    ``reference`` is the inquiry number (``Q20261128-483924``, bot/references.py) every ticket gets; a complaint's
    ticket also has ``complaint_reference``, and the customer sees that one in the subject.
    ``mailed_up_to``: the last agent message of the conversation put in the outbox, so an
    agent's reply is mailed exactly once even if the process stops after the reply is stored.
    ``state``: ``open``, or ``automated`` for machine mail (``no_acknowledgement`` says why).
    ``customer_id``: the CRM customer whose address sent it (an address is no proof of identity:
    it sets the handoff's tier, never what the customer is told).
    """

    __tablename__ = "email_tickets"
    id = Column(Integer, primary_key=True, autoincrement=True)
    reference = Column(String(16), nullable=False, unique=True)
    source_key = Column(String(255), nullable=False, unique=True)  # the first mail's Message-ID
    conversation_id = Column(String(80), ForeignKey("conversations.id"), nullable=False, unique=True)
    address = Column(String(320))  # where replies go (Reply-To or From), as written; none for a mail without one
    address_key = Column(String(320), index=True)  # the same, lower-cased: the per-sender cap and threading
    name = Column(Text)  # the sender's display name, decoded and cleaned
    subject = Column(Text, nullable=False, default="")  # decoded, cleaned, without our reference
    language = Column(String(2), nullable=False)
    category = Column(String(16), nullable=False)  # complaint | fraud | product | faq | general | unclassified
    intent = Column(String(64))  # what the assistant understood, and how sure it was
    confidence = Column(String(8))
    urgent = Column(Boolean, nullable=False, default=False)
    complaint_reference = Column(String(16), index=True)
    acknowledgement_id = Column(Integer, ForeignKey("email_outbox.id"))  # the acknowledgement, when one was sent
    acknowledged_at = Column(ShanghaiTime)
    no_acknowledgement = Column(Text)  # why none was sent (the auto-reply rules, the caps)
    mailed_up_to = Column(Integer, nullable=False, default=0)
    created_at = Column(ShanghaiTime, nullable=False)
    state = Column(String(12), nullable=False, default=OPEN, index=True)
    customer_id = Column(String(64), ForeignKey("customers.id"))

    @property
    def shown_reference(self) -> str:
        """The reference in our subjects: the complaint's, else the inquiry's."""
        return self.complaint_reference or self.reference


class EmailMail(Base):
    """Every mail of the channel by Message-ID, both ways: received mail (stored raw from IMAP
    before it is marked seen, unique on Message-ID, processed into a ticket afterwards) and the
    mail we sent (so a customer's In-Reply-To finds its ticket). The raw copy of a received
    mail is dropped once it is processed: the ticket keeps the masked text and the attachments."""

    __tablename__ = "email_mails"
    __table_args__ = (Index("ix_email_mails_state", "direction", "state"),)
    id = Column(Integer, primary_key=True, autoincrement=True)
    message_id = Column(String(255), nullable=False, unique=True)
    direction = Column(String(3), nullable=False)  # in | out
    state = Column(String(12), nullable=False)  # in: received → processed; out: sent (to the outbox)
    raw = Column(LargeBinary)
    size = Column(Integer, nullable=False, default=0)
    imap_uid = Column(Integer)
    ticket_id = Column(Integer, ForeignKey("email_tickets.id"), index=True)
    conversation_message_id = Column(Integer, ForeignKey("messages.id"))  # the message agents read
    outbox_id = Column(Integer, ForeignKey("email_outbox.id"))
    received_at = Column(ShanghaiTime, nullable=False)
    processed_at = Column(ShanghaiTime)
    attempts = Column(Integer, nullable=False, default=0)  # processing attempts that failed
    error = Column(Text)


class EmailAttachment(Base):
    """A received attachment, kept as bytes and only ever offered for download (never opened,
    rendered or executed by us)."""

    __tablename__ = "email_attachments"
    id = Column(Integer, primary_key=True, autoincrement=True)
    mail_id = Column(Integer, ForeignKey("email_mails.id"), nullable=False, index=True)
    conversation_id = Column(String(80), ForeignKey("conversations.id"), nullable=False, index=True)
    filename = Column(Text, nullable=False)
    content_type = Column(String(255), nullable=False)  # as declared by the sender; never served as such
    size = Column(Integer, nullable=False)
    sha256 = Column(String(64), nullable=False)
    data = Column(LargeBinary, nullable=False)
