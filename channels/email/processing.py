"""What the email channel does with a kept mail: continue its ticket, keep machine mail as an
automated ticket outside the queue, or let the assistant read it (fraud, complaint, a question it
can answer) and open a ticket with its acknowledgement in one transaction; mail agents' replies,
and the survey once an agent resolved a ticket. The steps and their reasons: docs/architecture.md,
"Email channel"."""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Tuple

from sqlalchemy.exc import OperationalError

from bot import knowledge, product_resolver, products, service_hours
from bot.complaints import triage
from bot.complaints.desk import ComplaintDesk, ComplaintDraft, UrgentLimitReached
from bot.complaints.models import Complaint
from bot.core import customers
from bot.core.customers import EmailSeal, profile_of
from bot.core.models import Message
from bot.core.rasa_client import AssistantUnavailable
from bot.core.store import message_dict
from bot.handoff.models import Handoff
from bot.language import format_moment, reply_language
from bot.privacy import mask_sensitive
from bot.surveys import SurveyDesk
from bot.working_calendar import RESOLUTION_WORKING_DAYS
from channels.email.autoreply import AutoReplyVerdict, auto_reply_verdict
from channels.email.mailbox import ImapConfig, MailboxReader
from channels.email.outbox import OutboxWorker, SmtpConfig
from channels.email.reading import InboundEmail, read_email
from channels.email.survey import SurveyLinks
from channels.email.tickets import (
    CONVERSATION_PREFIX, Acknowledgement, AlreadyProcessed, NewTicket, TicketStore, conversation_id_for, digest,
)

if TYPE_CHECKING:
    from bot.core.conversations import Conversations
    from channels.email.models import EmailTicket

logger = logging.getLogger(__name__)

CONFIDENT = 0.8  # the assistant's intent confidence from which its answer goes into the acknowledgement
ANSWERED_INTENTS = {"faq", "product_info", "product_list", "market_update", "branch_locator"}
PRODUCT_INTENTS = {"product_info", "product_list", "recommend_product", "market_update"}
NLU_CHARS = 500  # the start of the text the NLU reads (a mail's point is at its top)
URGENCY = {"report_fraud": 2, "file_complaint": 1}  # a reading of subject or text that wins over a more confident one
FIRST_HUMAN_REPLY = timedelta(hours=24)
GIVE_UP_AFTER = 5  # processing attempts before a mail is left for an operator
SWEEP_SECONDS = 30.0
MAILBOX_LEASE = "email-mailbox"  # held by the one process of several that reads the mailbox (bot/core/leases.py)


@dataclass(frozen=True)
class Understanding:
    category: str  # fraud | complaint | product | faq | general | unclassified | automated
    intent: Optional[str] = None
    confidence: Optional[float] = None
    answer: Optional[str] = None
    disclosure: Optional[str] = None

    @property
    def urgent(self) -> bool:
        return self.category == "fraud"


def own_addresses(imap: Optional[ImapConfig], smtp: Optional[SmtpConfig], environ=os.environ) -> List[str]:
    addresses = [smtp.envelope_from] if smtp else []
    if imap and "@" in imap.username:
        addresses.append(imap.username)
    addresses += [a.strip() for a in environ.get("EMAIL_OWN_ADDRESSES", "").split(",") if a.strip()]
    return addresses


class MailProcessor:
    def __init__(self, service: "Conversations", imap: Optional[ImapConfig], smtp: Optional[SmtpConfig],
                 ours: Iterable[str] = (), retry_seconds: float = 30.0, survey_url: Optional[str] = None):
        self.service = service
        self.smtp = smtp
        self.own_addresses = list(ours)
        self.tickets = TicketStore(service.store, smtp)
        self.seal = EmailSeal(service.settings.personal_data_key)  # CRM addresses are found by their keyed hash
        self.surveys = SurveyDesk(service.store.sessions)
        # Survey links point at the contact service as customers reach it (EMAIL_SURVEY_URL): none without it.
        self.survey_links = SurveyLinks(service.settings.session_secret, survey_url) if survey_url else None
        self.complaints = ComplaintDesk(service.store.sessions)
        # service_hours' clock: the one the tickets' times come from (EVERGREEN_CLOCK in demos)
        self.outbox_worker = OutboxWorker(service.store.sessions, smtp, clock=service_hours.now,
                                          base_delay=timedelta(seconds=retry_seconds)) if smtp else None
        self.imap = imap
        self._received = asyncio.Event()  # the mailbox reader kept a mail
        self._replied = asyncio.Event()  # an agent answered a ticket
        self._tasks: List[asyncio.Task] = []
        self._loop: Optional[asyncio.AbstractEventLoop] = None

    # --- running -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Every process mails agents' replies and sends the outbox (both claim their rows); the
        one holding the mailbox lease reads the mailbox and processes the mail kept."""
        self._loop = asyncio.get_running_loop()
        if self.outbox_worker:
            await self.outbox_worker.start()  # first recovers what a stopped process left mid-send
        self._tasks.append(asyncio.create_task(self._rounds(self.mail_agent_replies, self._replied), name="email-replies"))
        if self.imap:
            self._tasks.append(asyncio.create_task(self.service.leases.lead(MAILBOX_LEASE, self._read_mailbox),
                                                   name="email-mailbox"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.outbox_worker:
            await self.outbox_worker.stop()

    async def _read_mailbox(self) -> None:
        """The mailbox lease's job: a new reader's rounds, and processing what is kept (also what a
        process that died left unprocessed). Stopped (lease lost, service stopping), the reader
        ends its round or cuts its IDLE short and logs out."""
        stop = asyncio.Event()
        reading = asyncio.create_task(MailboxReader(self.imap, self._keep).run(stop), name="email-mailbox-reader")
        processing = asyncio.create_task(self._rounds(self.process_received, self._received), name="email-tickets")
        try:
            await asyncio.wait({reading, processing}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.set()
            processing.cancel()
            ended = await asyncio.gather(reading, processing, return_exceptions=True)
        if isinstance(ended[0], Exception):
            raise ended[0]  # a refused login: the lease's loop logs it and tries again

    def _keep(self, raw: bytes, uid: int) -> None:
        """The mailbox reader's store (in its thread): keep the mail, then wake the processing."""
        if self.tickets.store_received(raw, uid, service_hours.now()):
            self._loop.call_soon_threadsafe(self._received.set)

    def wake_for(self, message: Message) -> None:
        """An outbound message is waiting (EmailChannel.deliver): an agent answered a ticket?"""
        if message.sender == "agent" and message.conversation_id.startswith(CONVERSATION_PREFIX):
            self._replied.set()

    @staticmethod
    async def _rounds(work, wake: asyncio.Event) -> None:
        """``work()`` when woken, and every SWEEP_SECONDS."""
        while True:
            wake.clear()
            try:
                await work()
            except Exception:  # the database may be away for a while; the next round tries again
                logger.exception("email processing round failed")
            try:
                await asyncio.wait_for(wake.wait(), timeout=SWEEP_SECONDS)
            except asyncio.TimeoutError:
                pass

    async def process_received(self) -> int:
        """Process every kept mail not yet processed; how many were."""
        done = 0
        for mail_id in await self.service.db(self.tickets.received):
            try:
                await self.process(mail_id)
                done += 1
            except AlreadyProcessed:
                pass
            except OperationalError:
                raise  # the database: the whole round is tried again later
            except Exception as error:
                logger.exception("email %s could not be processed", mail_id)
                await self.service.db(self.tickets.processing_failed, mail_id, f"{type(error).__name__}: {error}", GIVE_UP_AFTER)
        return done

    async def mail_agent_replies(self) -> int:
        if self.smtp is None:
            return 0
        count = 0
        for ticket_id in await self.service.db(self.tickets.tickets_with_unmailed_replies):
            count += await self.service.db(self.tickets.mail_agent_replies, ticket_id, service_hours.now(), self.compose_reply)
        if count:
            self.outbox_worker.wake()
        return count

    async def resolved(self, handoff: Handoff) -> None:
        """An agent resolved an email ticket: the agent's last replies go first, then the survey
        mail (survey.py), once per survey."""
        if self.smtp is None or self.survey_links is None:
            return
        await self.mail_agent_replies()
        now = service_hours.now()
        ticket = await self.service.db(self.tickets.ticket_of_conversation, handoff.conversation_id)
        if ticket is None or not ticket.address:
            return
        survey = await self.service.db(self.surveys.ask, ticket.conversation_id, "email", ticket.language, "agent", now, handoff)
        if survey is None or survey.handoff_id != handoff.id:  # one of an earlier resolution, mailed then, is still open
            return
        token = self.survey_links.token(survey.id, now)
        subject = knowledge.message("email_survey_subject", ticket.language, reference=ticket.shown_reference)
        text = (f"{self._greeting(ticket)}\n\n{self.survey_links.mail_text(token, ticket.shown_reference, ticket.language)}"
                f"\n\n-- \n{knowledge.message('email_signature', ticket.language)}\n{knowledge.message('email_auto_note', ticket.language)}\n")
        await self.service.db(self.tickets.mail_automatic, ticket.id, subject, text, now)
        self.outbox_worker.wake()

    # --- one mail ------------------------------------------------------------------------------

    async def process(self, mail_id: int) -> None:
        service = self.service
        raw, received_at = await service.db(self.tickets.raw, mail_id)
        mail = read_email(raw)
        now = service_hours.now()
        verdict = await service.db(self.verdict, mail, now)
        ticket = await service.db(self.tickets.ticket_for, mail)
        if ticket is not None:
            message = await service.db(self.tickets.add_to_ticket, mail_id, mail, ticket, now, bool(verdict.automated))
            await self._tell_consoles(ticket.conversation_id, message, ticket.urgent)
            return
        text = f"{mail.subject}\n{mail.new_text or mail.text}".strip()
        language = reply_language(text, None)
        conversation_id = conversation_id_for(mail.message_id)
        await service.db(service.store.open_conversation, conversation_id, None, "email", language)
        if verdict.automated:  # machine mail: kept, never read by the assistant, queued or answered
            understanding = Understanding("automated")
        else:
            understanding = await self.understand(conversation_id, mask_sensitive(mail.subject),
                                                  mask_sensitive(mail.new_text or mail.text), language)
        customer = await service.db(self.customer_of, mail)
        complaint = None
        if understanding.category in ("complaint", "fraud"):
            try:
                complaint = await service.db(self._file_complaint, mail, conversation_id, language, text, understanding, received_at)
            except UrgentLimitReached:  # too many urgent ones from this sender: still queued urgent, not filed
                logger.warning("email %s: urgent complaint not filed, over the limit per sender", mail_id)
        decided = NewTicket(
            language=language, category=understanding.category, intent=understanding.intent,
            confidence=understanding.confidence, urgent=understanding.urgent,
            complaint_reference=complaint.reference if complaint else None,
            no_acknowledgement=self.no_acknowledgement(verdict), automated=bool(verdict.automated),
            customer_id=customer,
        )

        def acknowledge(ticket: "EmailTicket") -> Acknowledgement:
            return self.acknowledgement(ticket, understanding, complaint, received_at)

        ticket, message, _ack = await service.db(self.tickets.open_ticket, mail_id, mail, decided, now, acknowledge)
        if ticket.acknowledgement_id and self.outbox_worker:
            self.outbox_worker.wake()
        if not decided.automated:
            await self._tell_consoles(ticket.conversation_id, message, ticket.urgent)

    async def _tell_consoles(self, conversation_id: str, message: Message, urgent: bool) -> None:
        consoles = self.service.handoffs
        await consoles.to_consoles({"type": "queue_changed", "conversation_id": conversation_id, "urgent": urgent})
        await consoles.to_consoles({"type": "message", "conversation_id": conversation_id, "message": message_dict(message)},
                                   conversation_id)

    async def understand(self, conversation_id: str, subject: str, text: str, language: str) -> Understanding:
        """What the assistant makes of the mail (module docstring, step 2). The subject and the
        text are read separately ("投诉：…" says in two words what a long story may blur): a
        fraud or complaint reading of either wins, otherwise the more confident one. The NLU
        reads the start of the text; triage reads all of it, so a fraud told at the end of a long
        mail is still urgent."""
        whole = f"{subject}\n{text}"
        readings = []
        for part in (subject, text[:NLU_CHARS]):
            if part.strip():
                try:
                    parsed = await self.service.rasa.parse(part)
                except AssistantUnavailable as error:
                    logger.warning("assistant unavailable to classify an email: %s", error)
                    return Understanding("fraud" if triage.decide(whole).urgent else "unclassified")
                intent = parsed.get("intent") or {}
                readings.append((intent.get("name"), float(intent.get("confidence") or 0.0), part))
        if not readings:
            return Understanding("fraud" if triage.decide(whole).urgent else "general")
        name, confidence, part = max(readings, key=lambda r: (URGENCY.get(r[0], 0), r[1]))
        # The NLU has triaged each part (report_fraud only when urgent); the whole mail is triaged
        # too, for signs that only subject and text together show.
        if name == "report_fraud" or triage.decide(whole, name).urgent:
            category = "fraud"
        elif name == "file_complaint":
            category = "complaint"
        elif name in PRODUCT_INTENTS:
            category = "product"
        elif name == "faq":
            category = "faq"
        else:
            category = "general"
        answer = disclosure = None
        if category in ("product", "faq"):
            answer, disclosure = product_fact(whole, language)
        if answer is None and name in ANSWERED_INTENTS and confidence >= CONFIDENT:
            metadata = {"customer": profile_of(None), "channel": "email", "language": language}
            try:
                reply = await self.service.rasa.send(conversation_id, part, metadata)
            except AssistantUnavailable as error:
                logger.warning("assistant unavailable to answer an email: %s", error)
            else:
                # An answer, not a question back (buttons) and not a request for a person.
                if reply.handoff is None and not any(r["buttons"] for r in reply.replies):
                    answer = "\n\n".join(r["text"] for r in reply.replies)
                    disclosure = next((r["disclosure"] for r in reply.replies if r["disclosure"]), None)
        return Understanding(category, name, round(confidence, 3), answer, disclosure)

    def crm_customer(self, customer_id: Optional[str]) -> Optional[Dict[str, Any]]:
        """The CRM customer an address matched, for agents: who it may be, never verified."""
        if customer_id is None:
            return None
        with self.service.store.sessions() as session:
            found = customers.find(session, customer_id)
            return {"id": found.id, "name": found.name, "tier": found.tier, "verified": False} if found else None

    def _file_complaint(self, mail: InboundEmail, conversation_id: str, language: str, text: str,
                        understanding: Understanding, received_at: datetime) -> Complaint:
        sender = mail.reply_address
        draft = ComplaintDraft(
            source_key="email:" + digest(mail.message_id)[:40], conversation_id=conversation_id, customer_id=None,
            channel="email", language=language, category=triage.suggest_category(text), description=text[:2000],
            contact=f"email {sender.address}" if sender else None, urgent=understanding.urgent,
            origin=self.service.origin(f"mail:{sender.key}") if sender else None,  # urgent ones are limited per sender
        )
        return self.complaints.file(draft, received_at)

    def verdict(self, mail: InboundEmail, now: datetime) -> AutoReplyVerdict:
        """autoreply.py's rules and caps for ``mail``: whether a machine wrote it, and whether an
        acknowledgement may answer it."""
        sender = mail.reply_address
        sent_today = self.tickets.acknowledgements_today(sender.key, now) if sender else 0
        return auto_reply_verdict(mail, self.own_addresses, [self.smtp.domain] if self.smtp else [], acks_for_ticket=0,
                                  acks_to_sender_today=sent_today)

    def no_acknowledgement(self, verdict: AutoReplyVerdict) -> Optional[str]:
        """Why no acknowledgement may go, or None."""
        reasons = list(verdict.reasons) + ([] if self.smtp else ["no outgoing mail server configured"])
        return "; ".join(reasons) or None

    def customer_of(self, mail: InboundEmail) -> Optional[str]:
        """The CRM customer with the address our replies go to, if exactly one has it. Its tier
        sets the ticket's priority; an address proves nobody's identity, so nothing of the
        customer's account goes into any mail."""
        sender = mail.reply_address
        if sender is None:
            return None
        with self.service.store.sessions() as session:
            found = customers.by_email(session, self.seal, sender.address)
            return found.id if found else None

    # --- what we write -------------------------------------------------------------------------

    @staticmethod
    def _subject(ticket: "EmailTicket") -> str:
        language = ticket.language
        topic = ticket.subject or knowledge.message("email_subject_none", language)
        return knowledge.message("email_subject_reply", language, reference=ticket.shown_reference, subject=topic)

    @staticmethod
    def _greeting(ticket: "EmailTicket") -> str:
        if ticket.name:
            return knowledge.message("email_greeting", ticket.language, name=ticket.name)
        return knowledge.message("email_greeting_anonymous", ticket.language)

    def acknowledgement(self, ticket: "EmailTicket", understanding: Understanding, complaint: Optional[Complaint],
                        received_at: datetime) -> Acknowledgement:
        language = ticket.language
        topic = knowledge.message(f"email_topic_{understanding.category}", language)
        if understanding.category == "complaint" and complaint is not None:
            topic = topic.format(category=triage.category_label(complaint.category, language))
        paragraphs = [self._greeting(ticket)]
        # An urgent report: the safety steps first, the ordinary promise and deadlines after.
        if complaint is not None and complaint.urgent:
            paragraphs.append(knowledge.message("complaint_urgent", language, reference=complaint.reference))
        elif understanding.urgent:  # over the limit of urgent complaints per sender: not filed again
            paragraphs.append(knowledge.message("complaint_urgent_limited", language, next=""))
        paragraphs.append(knowledge.message(
            "email_ack_received", language, reference=ticket.shown_reference, understood=topic,
            due=format_moment(received_at + FIRST_HUMAN_REPLY, language)))
        if complaint is not None:
            paragraphs.append(knowledge.message(
                "email_ack_complaint", language, reference=complaint.reference,
                first_reply=format_moment(complaint.first_reply_due, language),
                resolution=format_moment(complaint.resolution_due, language),
                days=RESOLUTION_WORKING_DAYS[complaint.severity]))
        if understanding.answer:
            paragraphs += [knowledge.message("email_ack_answer", language), understanding.answer]
        paragraphs.append(knowledge.message("email_ack_keep_reference", language))
        shown = "\n\n".join(paragraphs)
        body = shown + (f"\n\n{understanding.disclosure}" if understanding.disclosure else "")
        body += f"\n\n-- \n{knowledge.message('email_signature', language)}\n{knowledge.message('email_auto_note', language)}\n"
        subject = self._subject(ticket)
        if ticket.urgent:
            subject = knowledge.message("email_subject_urgent", language, subject=subject)
        return Acknowledgement(subject, body, shown, understanding.disclosure)

    def compose_reply(self, ticket: "EmailTicket", text: str):
        """An agent's reply as a mail: (subject, body)."""
        language = ticket.language
        body = (f"{self._greeting(ticket)}\n\n{text}\n\n{knowledge.message('email_ack_keep_reference', language)}"
                f"\n\n-- \n{knowledge.message('email_signature', language)}\n")
        return self._subject(ticket), body

    # --- for the console -----------------------------------------------------------------------

    async def details(self, conversation_id: str) -> Optional[Dict[str, Any]]:
        """The ticket behind an email conversation, for the console's conversation view."""
        ticket = await self.service.db(self.tickets.ticket_of_conversation, conversation_id)
        if ticket is None:
            return None
        attachments = await self.service.db(self.tickets.attachments, conversation_id)
        return {
            "reference": ticket.shown_reference, "inquiry_reference": ticket.reference, "subject": ticket.subject,
            "address": ticket.address, "name": ticket.name, "category": ticket.category,
            "acknowledged": ticket.acknowledged_at is not None, "no_acknowledgement": ticket.no_acknowledgement,
            "state": ticket.state, "crm_customer": await self.service.db(self.crm_customer, ticket.customer_id),
            "attachments": [{"id": a.id, "filename": a.filename, "size": a.size,
                             "url": f"/console/api/email-attachments/{a.id}"} for a in attachments],
        }


def product_fact(text: str, language: str) -> Tuple[Optional[str], Optional[str]]:
    """(answer, disclosure) when ``text`` names exactly one of our products: its asked facts (or
    its profile), as the chat's product answer gives them (bot/product_resolver.py,
    bot/products.py), with the risk disclosure; (None, None) otherwise."""
    named = product_resolver.resolve(text[:2000])
    codes = set(named.codes)
    if len(codes) != 1 or named.candidates or named.unknown:
        return None, None
    product = products.find_product(codes.pop())
    if product is None:
        return None, None
    return products.describe(product, products.asked_attributes(text[:2000]), language), knowledge.risk_disclosure(language)
