"""Tickets from the service mailbox, in the database (synchronous; the channel runs it in
threads): received mail kept raw once per Message-ID; a reply threaded into its ticket
(``add_to_ticket``) or a new ticket opened (``open_ticket``), each in one transaction with
everything the mail causes; agents' replies put in the outbox once (``mail_agent_replies``). The
threading rule: a mail's In-Reply-To/References name a mail of the ticket, or its subject carries
the reference *and* it comes from the ticket's address (docs/architecture.md, "Email channel")."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from email.utils import formataddr
from typing import List, Optional, Sequence, Tuple

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import knowledge
from bot.core import audit
from bot.core.errors import Conflict, NotFound
from bot.core.models import Customer, Message
from bot.core.store import ConversationStore
from bot.handoff.desk import HandoffDesk, HandoffRequest
from bot.privacy import mask_sensitive
from bot.references import insert_once
from bot.service_hours import SHANGHAI
from channels.email.models import AUTOMATED, OPEN, EmailAttachment, EmailMail, EmailTicket
from channels.email.outbox import SmtpConfig, build_message, enqueue
from channels.email.reading import InboundEmail, read_email

CONVERSATION_PREFIX = "em-"
MAX_TEXT = 20000  # characters of a mail's text kept for agents
MAX_REFERENCES = 20  # ids in our References header: the first mail and the latest ones
RECEIVED, PROCESSED, FAILED = "received", "processed", "failed"
_REPLY_PREFIX = re.compile(r"^\s*(re|aw|fw|fwd|回复|答复|转发)\s*[:：]\s*", re.IGNORECASE)


class AlreadyProcessed(Exception):
    """Another process (or an earlier attempt) processed this mail first."""


def digest(message_id: str) -> str:
    return hashlib.sha256(message_id.encode("utf-8", "surrogateescape")).hexdigest()


def conversation_id_for(message_id: str) -> str:
    """The conversation of the ticket a mail opens: derived from its Message-ID, so a mail
    processed again after a crash finds the same one."""
    return CONVERSATION_PREFIX + digest(message_id)[:32]


def agent_text(mail: InboundEmail) -> str:
    """What agents read: the subject, the new part of the body (the quoted history trimmed),
    and what came with it; secrets and personal numbers masked (so are the ticket's subject and
    the attachments' names; the attachments themselves are kept as sent)."""
    body = mail.new_text or mail.text
    if len(body) > MAX_TEXT:
        body = body[:MAX_TEXT] + "\n[…]"
    parts = [f"✉ {mail.subject}" if mail.subject else "✉", body.strip()]
    parts += [f"📎 {a.filename} ({a.size:,} bytes)" for a in mail.attachments]
    parts += [f"⚠ {note}" for note in mail.notes]
    return mask_sensitive("\n\n".join(part for part in parts if part))


def topic_subject(subject: str, references: Sequence[str]) -> str:
    """The subject without our references and reply prefixes, to reuse in our own subjects."""
    text = subject
    for reference in references:
        text = re.sub(rf"[\[【［]\s*{reference}\s*[\]】］]", " ", text, flags=re.IGNORECASE)
    text = " ".join(text.split())
    while _REPLY_PREFIX.match(text):
        text = _REPLY_PREFIX.sub("", text, count=1)
    return text[:200]


@dataclass(frozen=True)
class Acknowledgement:
    """The acknowledgement ``channel.py`` composed for a new ticket (``None``: not sent)."""

    subject: str
    text: str  # the mail's body, with the disclosure where it applies
    conversation_text: str  # the same as agents see it in the conversation (without the signature)
    disclosure: Optional[str] = None


@dataclass(frozen=True)
class NewTicket:
    """What the channel decided about a mail that opens a ticket."""

    language: str
    category: str
    intent: Optional[str]
    confidence: Optional[float]
    urgent: bool
    complaint_reference: Optional[str]
    no_acknowledgement: Optional[str]  # why no acknowledgement may go (None: it may)
    automated: bool = False  # machine mail: kept as an automated ticket, not queued
    customer_id: Optional[str] = None  # the CRM customer with the sender's address


class TicketStore:
    def __init__(self, conversations: ConversationStore, smtp: Optional[SmtpConfig]):
        self.conversations = conversations
        self.sessions = conversations.sessions
        self.smtp = smtp

    # --- received mail -------------------------------------------------------------------------

    def store_received(self, raw: bytes, uid: int, now: datetime) -> bool:
        """Keep a mail from the mailbox once per Message-ID; whether it was new."""
        message_id = read_email(raw).message_id
        with self.sessions() as session:
            if session.execute(select(EmailMail.id).where(EmailMail.message_id == message_id)).first():
                return False
            session.add(EmailMail(message_id=message_id, direction="in", state=RECEIVED, raw=raw, size=len(raw),
                                  imap_uid=uid, received_at=now))
            try:
                session.commit()
            except IntegrityError:  # the same mail stored by another reader at this moment
                return False
            return True

    def received(self, limit: int = 20) -> List[int]:
        """Mails kept but not yet processed, oldest first."""
        with self.sessions() as session:
            query = (select(EmailMail.id).where(EmailMail.direction == "in", EmailMail.state == RECEIVED)
                     .order_by(EmailMail.id).limit(limit))
            return list(session.execute(query).scalars())

    def raw(self, mail_id: int) -> Tuple[bytes, datetime]:
        with self.sessions() as session:
            mail = session.get(EmailMail, mail_id)
            return mail.raw, mail.received_at

    def processing_failed(self, mail_id: int, error: str, give_up_after: int) -> None:
        """A processing attempt failed: counted; after ``give_up_after`` the mail is ``failed``
        (kept raw for an operator) instead of being tried for ever."""
        with self.sessions() as session:
            mail = session.get(EmailMail, mail_id)
            mail.attempts += 1
            mail.error = mask_sensitive(error[:2000])
            if mail.attempts >= give_up_after:
                mail.state = FAILED
            session.commit()

    # --- threading -----------------------------------------------------------------------------

    def ticket_for(self, mail: InboundEmail) -> Optional[EmailTicket]:
        """The ticket ``mail`` continues, if any (module docstring, "Threading")."""
        with self.sessions() as session:
            if mail.thread_ids:
                query = (select(EmailTicket).join(EmailMail, EmailMail.ticket_id == EmailTicket.id)
                         .where(EmailMail.message_id.in_(mail.thread_ids)).order_by(EmailMail.id.desc()).limit(1))
                ticket = session.execute(query).scalar_one_or_none()
                if ticket:
                    return ticket
            sender = mail.reply_address
            if mail.subject_references and sender is not None:
                references = mail.subject_references
                query = (select(EmailTicket)
                         .where(EmailTicket.address_key == sender.key,
                                or_(EmailTicket.reference.in_(references), EmailTicket.complaint_reference.in_(references)))
                         .order_by(EmailTicket.id.desc()).limit(1))
                return session.execute(query).scalar_one_or_none()
            return None

    def acknowledgements_today(self, address_key: str, now: datetime) -> int:
        """Acknowledgements sent to this address on ``now``'s day (Beijing time)."""
        midnight = datetime.combine(now.astimezone(SHANGHAI).date(), time(0), tzinfo=SHANGHAI)
        with self.sessions() as session:
            query = select(func.count(EmailTicket.id)).where(
                EmailTicket.address_key == address_key, EmailTicket.acknowledgement_id.isnot(None),
                EmailTicket.created_at >= midnight, EmailTicket.created_at < midnight + timedelta(days=1))
            return session.execute(query).scalar_one()

    # --- writing what a mail causes ------------------------------------------------------------

    def _customer_message(self, session: Session, mail_id: int, mail: InboundEmail, conversation_id: str,
                          text: str) -> Message:
        message = self.conversations.add_inbound(
            session, conversation_id, "mail:" + digest(mail.message_id)[:40], text,
            sealed_from=(mail.new_text or mail.text)[:MAX_TEXT], status="for_agent")
        session.get(EmailMail, mail_id).conversation_message_id = message.id
        for attachment in mail.attachments:
            session.add(EmailAttachment(
                mail_id=mail_id, conversation_id=conversation_id, filename=mask_sensitive(attachment.filename),
                content_type=attachment.content_type[:255], size=attachment.size,
                sha256=hashlib.sha256(attachment.data).hexdigest(), data=attachment.data))
        return message

    @staticmethod
    def _mark_processed(session: Session, mail_id: int, ticket_id: int, now: datetime) -> None:
        """First in the transaction: a mail processed by someone else stops it here."""
        done = session.execute(
            update(EmailMail).where(EmailMail.id == mail_id, EmailMail.state == RECEIVED)
            .values(state=PROCESSED, ticket_id=ticket_id, raw=None, processed_at=now, error=None)
        ).rowcount
        if done != 1:
            raise AlreadyProcessed(mail_id)

    def add_to_ticket(self, mail_id: int, mail: InboundEmail, ticket: EmailTicket, now: datetime,
                      automated: bool = False) -> Message:
        """A customer's mail in an existing ticket; the conversation goes back to the queue if no
        agent has it open. Machine mail (an out-of-office answering our mail) is added without
        queueing anything; a person writing into an automated ticket opens it. Raises
        AlreadyProcessed when it was done already."""
        with self.sessions() as session:
            self._mark_processed(session, mail_id, ticket.id, now)
            message = self._customer_message(session, mail_id, mail, ticket.conversation_id, agent_text(mail))
            if not automated:
                session.execute(update(EmailTicket).where(EmailTicket.id == ticket.id).values(state=OPEN))
                self._queue(session, ticket, now)
            session.commit()
            return message

    @staticmethod
    def _queue(session: Session, ticket: EmailTicket, now: datetime) -> None:
        """The ticket's conversation in the agents' queue, at the CRM tier of its sender if known."""
        customer = session.get(Customer, ticket.customer_id) if ticket.customer_id else None
        HandoffDesk.request_in(session, HandoffRequest(
            conversation_id=ticket.conversation_id, reason="fraud" if ticket.urgent else "email",
            tier=customer.tier if customer else "standard",
            language=ticket.language, urgent=ticket.urgent, summary=mask_sensitive(ticket.subject) or None,
            complaint_reference=ticket.complaint_reference, channel="email"), now)

    def open_ticket(self, mail_id: int, mail: InboundEmail, decided: NewTicket, now: datetime,
                    acknowledge) -> Tuple[EmailTicket, Message, Optional[Message]]:
        """The ticket for a mail that continues none (the conversation must exist). ``acknowledge``
        is called with the new ticket and returns the Acknowledgement to send, or ``None``.
        Returns the ticket, the customer's message and the acknowledgement's message."""
        conversation_id = conversation_id_for(mail.message_id)
        sender = mail.reply_address
        stored = {}

        def make(reference: str) -> EmailTicket:
            return EmailTicket(
                reference=reference, source_key=mail.message_id, conversation_id=conversation_id,
                address=sender.address if sender else None, address_key=sender.key if sender else None,
                name=sender.name if sender else None,
                subject=mask_sensitive(topic_subject(mail.subject, mail.subject_references)), language=decided.language,
                category=decided.category, intent=decided.intent,
                confidence=None if decided.confidence is None else f"{decided.confidence:.3f}",
                urgent=decided.urgent, complaint_reference=decided.complaint_reference,
                no_acknowledgement=decided.no_acknowledgement, created_at=now,
                state=AUTOMATED if decided.automated else OPEN, customer_id=decided.customer_id,
            )

        def with_ticket(session: Session, ticket: EmailTicket) -> None:
            self._mark_processed(session, mail_id, ticket.id, now)
            stored["message"] = message = self._customer_message(session, mail_id, mail, conversation_id, agent_text(mail))
            message.intent, message.confidence = decided.intent, decided.confidence  # for the accuracy indicators
            if decided.automated:
                return  # kept and searchable; neither queued nor acknowledged
            self._queue(session, ticket, now)
            ack = acknowledge(ticket) if decided.no_acknowledgement is None else None
            if ack is not None:
                stored["ack"] = self._send(session, ticket, ack.subject, ack.text, now, auto_reply=True,
                                           reply_to_ids=[mail.message_id], conversation_text=ack.conversation_text,
                                           disclosure=ack.disclosure, sender="bot")
                ticket.acknowledgement_id, ticket.acknowledged_at = stored["ack"][1], now

        ticket = insert_once(self.sessions, EmailTicket, "Q", now, mail.message_id, make, with_ticket)
        if "message" not in stored:  # the ticket existed: this mail was processed before
            raise AlreadyProcessed(mail_id)
        ack = stored.get("ack")
        return ticket, stored["message"], ack[0] if ack else None

    def sender(self, language: str) -> str:
        """Our From: the service's name in the mail's language (RFC 2047-encoded when it is not
        ASCII), at EMAIL_FROM's address."""
        return formataddr((knowledge.message("email_sender_name", language), self.smtp.envelope_from))

    def _send(self, session: Session, ticket: EmailTicket, subject: str, text: str, now: datetime, *,
              auto_reply: bool, reply_to_ids: Sequence[str], conversation_text: Optional[str] = None,
              disclosure: Optional[str] = None, sender: str = "bot", message_id: Optional[int] = None) -> Tuple[Optional[Message], int]:
        """Put a mail to the ticket's address in the outbox and index it; with
        ``conversation_text``, also the conversation message agents see. (message, outbox id)"""
        mail = build_message(self.sender(ticket.language), formataddr((ticket.name or "", ticket.address)), subject, text,
                             now=now, in_reply_to=reply_to_ids[-1] if reply_to_ids else None,
                             references=reply_to_ids[:-1], auto_reply=auto_reply)
        row = enqueue(session, mail, now=now, conversation_id=ticket.conversation_id, ticket_ref=ticket.shown_reference)
        message = None
        if conversation_text is not None:
            message = Message(conversation_id=ticket.conversation_id, direction="out", sender=sender,
                              text=conversation_text, disclosure=disclosure, status="sent")
            session.add(message)
            session.flush()
        session.add(EmailMail(message_id=row.message_id, direction="out", state="sent", size=len(row.message),
                              ticket_id=ticket.id, conversation_message_id=message.id if message else message_id,
                              outbox_id=row.id, received_at=now, processed_at=now))
        return message, row.id

    # --- agents' replies -----------------------------------------------------------------------

    def thread_ids(self, session: Session, ticket_id: int) -> List[str]:
        """The ticket's mails, oldest first (for References), the customer's latest last."""
        ids = list(session.execute(select(EmailMail.message_id).where(EmailMail.ticket_id == ticket_id)
                                   .order_by(EmailMail.id)).scalars())
        latest_in = session.execute(select(EmailMail.message_id).where(EmailMail.ticket_id == ticket_id,
                                                                       EmailMail.direction == "in")
                                    .order_by(EmailMail.id.desc()).limit(1)).scalar_one_or_none()
        if latest_in:  # In-Reply-To: the mail the customer sent last
            ids.remove(latest_in)
            ids.append(latest_in)
        return ids if len(ids) <= MAX_REFERENCES else ids[:1] + ids[-(MAX_REFERENCES - 1):]

    def tickets_with_unmailed_replies(self) -> List[int]:
        with self.sessions() as session:
            query = (select(EmailTicket.id).distinct()
                     .join(Message, and_(Message.conversation_id == EmailTicket.conversation_id,
                                         Message.sender == "agent", Message.id > EmailTicket.mailed_up_to)))
            return list(session.execute(query).scalars())

    def ticket_of_conversation(self, conversation_id: str) -> Optional[EmailTicket]:
        with self.sessions() as session:
            return session.execute(select(EmailTicket).where(EmailTicket.conversation_id == conversation_id)).scalar_one_or_none()

    def mail_agent_replies(self, ticket_id: int, now: datetime, compose) -> int:
        """Put every agent message not yet mailed into the outbox (``compose(ticket, text)`` →
        (subject, body)); how many. Nothing when another process did it at the same moment."""
        if self.smtp is None:
            return 0
        with self.sessions() as session:
            ticket = session.get(EmailTicket, ticket_id)
            start = ticket.mailed_up_to
            replies = list(session.execute(
                select(Message).where(Message.conversation_id == ticket.conversation_id, Message.sender == "agent",
                                      Message.id > start).order_by(Message.id)).scalars())
            if not replies or not ticket.address:
                return 0
            for reply in replies:
                subject, body = compose(ticket, reply.text)
                self._send(session, ticket, subject, body, now, auto_reply=False,
                           reply_to_ids=self.thread_ids(session, ticket.id), message_id=reply.id)
            moved = session.execute(update(EmailTicket).where(EmailTicket.id == ticket_id, EmailTicket.mailed_up_to == start)
                                    .values(mailed_up_to=replies[-1].id)).rowcount
            if moved != 1:
                session.rollback()
                return 0
            session.commit()
            return len(replies)

    def mail_automatic(self, ticket_id: int, subject: str, text: str, now: datetime) -> int:
        """An automatic mail of ours (the survey) in the ticket's thread; its outbox id."""
        with self.sessions() as session:
            ticket = session.get(EmailTicket, ticket_id)
            _, outbox_id = self._send(session, ticket, subject, text, now, auto_reply=True,
                                      reply_to_ids=self.thread_ids(session, ticket.id))
            session.commit()
            return outbox_id

    # --- for agents ------------------------------------------------------------------------------

    def attachments(self, conversation_id: str) -> List[EmailAttachment]:
        with self.sessions() as session:
            query = (select(EmailAttachment.id, EmailAttachment.filename, EmailAttachment.size, EmailAttachment.mail_id)
                     .where(EmailAttachment.conversation_id == conversation_id).order_by(EmailAttachment.id))
            return list(session.execute(query).all())

    def attachment(self, attachment_id: int) -> Optional[EmailAttachment]:
        with self.sessions() as session:
            return session.get(EmailAttachment, attachment_id)


    # --- automated mail ----------------------------------------------------------------------------

    def automated(self, query: str = "", limit: int = 50, before: Optional[int] = None) -> List[EmailTicket]:
        """Automated tickets, newest first; each word of ``query`` found in the subject, address,
        name or reason (ASCII letters in any case); ``before`` a ticket id, for the next page."""
        with self.sessions() as session:
            select_ = select(EmailTicket).where(EmailTicket.state == AUTOMATED)
            words = query.split()
            for word in words:
                pattern = "%" + word.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                select_ = select_.where(or_(func.lower(EmailTicket.subject).like(pattern, escape="\\"),
                                            func.lower(EmailTicket.address).like(pattern, escape="\\"),
                                            func.lower(EmailTicket.name).like(pattern, escape="\\"),
                                            func.lower(EmailTicket.no_acknowledgement).like(pattern, escape="\\")))
            if before is not None:
                select_ = select_.where(EmailTicket.id < before)
            return list(session.execute(select_.order_by(EmailTicket.id.desc()).limit(limit)).scalars())

    def queue_automated(self, ticket_id: int, actor: str, address: Optional[str], now: datetime) -> EmailTicket:
        """An agent moves an automated ticket into the queue: it becomes an ordinary open ticket
        waiting for an agent, audited. NotFound for no such ticket, Conflict when it is not
        automated (any more)."""
        with self.sessions() as session:
            ticket = session.get(EmailTicket, ticket_id)
            if ticket is None:
                raise NotFound("No email ticket with this id.")
            moved = session.execute(update(EmailTicket).where(EmailTicket.id == ticket_id, EmailTicket.state == AUTOMATED)
                                    .values(state=OPEN)).rowcount
            if moved != 1:
                raise Conflict("This ticket is not among the automated mail (already queued?).")
            self._queue(session, ticket, now)
            audit.record(session, actor, "email_queue_automated", ticket.reference, address)
            session.commit()
            return ticket
