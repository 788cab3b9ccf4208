"""Mail as the tests send and read it: the channel's settings for the test servers
(``imap_server``, ``smtp_server``), the stored mails (channels/email/fixtures/), new mails, what
the service sent, and tickets opened straight from a mail."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Dict, List, Optional

from cryptography.fernet import Fernet
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from bot.core.store import ConversationStore
from bot.core.vault import Vault
from bot.service_hours import SHANGHAI
from channels.email.models import EmailMail, EmailTicket
from channels.email.outbox import SmtpConfig
from channels.email.reading import read_email
from channels.email.tickets import Acknowledgement, NewTicket, TicketStore, conversation_id_for
from tests.support.imap_server import PASSWORD, USER, DovecotServer
from tests.support.smtp_server import SmtpServer
from tests.support.system import ROOT

FIXTURES = ROOT / "tests" / "channels" / "email" / "fixtures"
SERVICE = "service@evergreen.example"
T0 = datetime(2026, 11, 30, 10, 0, tzinfo=SHANGHAI)
SMTP = SmtpConfig("127.0.0.1", 25, "none", None, None, "长青财富客服 <service@evergreen.example>")
QUESTION = NewTicket(language="zh", category="product", intent="product_info", confidence=0.97, urgent=False,
                     complaint_reference=None, no_acknowledgement=None)


def email_env(dovecot: DovecotServer, smtp: SmtpServer) -> Dict[str, str]:
    """The channel switched on, reading the test mailbox and sending through the test server."""
    return {
        "EMAIL_IMAP_HOST": "127.0.0.1", "EMAIL_IMAP_PORT": str(dovecot.port), "EMAIL_IMAP_TLS": "none",
        "EMAIL_IMAP_USERNAME": USER, "EMAIL_IMAP_PASSWORD": PASSWORD, "EMAIL_IMAP_POLL_SECONDS": "1",
        "EMAIL_SMTP_HOST": "127.0.0.1", "EMAIL_SMTP_PORT": str(smtp.port), "EMAIL_SMTP_TLS": "none",
        "EMAIL_FROM": f"长青财富客服 <{SERVICE}>", "EMAIL_SMTP_RETRY_SECONDS": "1",
    }


def fixture(name: str) -> bytes:
    """A stored mail of tests/channels/email/fixtures/."""
    return (FIXTURES / name).read_bytes()


def mails_to(smtp: SmtpServer, address: str) -> List[EmailMessage]:
    return [m for m in smtp.messages() if address in str(m["To"])]


def subject(mail: EmailMessage) -> str:
    # A long subject is folded; Python's parser keeps the fold's space, mail clients drop it.
    return " ".join(str(mail["Subject"]).split())


def body(mail: EmailMessage) -> str:
    return mail.get_body(("plain",)).get_content()


def ticket_of(database_url: str, message_id: str) -> Optional[EmailTicket]:
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            return session.execute(select(EmailTicket).where(EmailTicket.source_key == message_id)).scalar_one_or_none()
    finally:
        engine.dispose()


def processed(database_url: str, message_id: str) -> bool:
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            return session.execute(select(EmailMail.state).where(EmailMail.message_id == message_id)).scalar() == "processed"
    finally:
        engine.dispose()


def new_mail(sender: str, subject: str, text: str, **headers: str) -> bytes:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = SERVICE
    mail["Subject"] = subject
    mail["Message-ID"] = make_msgid(domain="customer.example")
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content(text)
    return bytes(mail)


def message_id_of(raw: bytes) -> str:
    from email import message_from_bytes
    return message_from_bytes(raw)["Message-ID"].strip()


def ticket_store(sessions) -> TicketStore:
    return TicketStore(ConversationStore(sessions, Vault(Fernet.generate_key().decode())), SMTP)


def acknowledge(ticket) -> Acknowledgement:
    return Acknowledgement(f"[{ticket.reference}] 回复：{ticket.subject}", "已收到", "已收到")


def open_from(tickets: TicketStore, raw: bytes, now: datetime = T0, decided: NewTicket = QUESTION):
    mail = read_email(raw)
    assert tickets.store_received(raw, 1, now)
    [mail_id] = [i for i in tickets.received() if tickets.raw(i)[0] == raw]
    tickets.conversations.open_conversation(conversation_id_for(mail.message_id), None, "email", "zh")
    return tickets.open_ticket(mail_id, mail, decided, now, acknowledge)
