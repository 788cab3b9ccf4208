"""The email outbox: every outgoing mail is committed first (``enqueue``, in the caller's
transaction), then sent over SMTP by ``OutboxWorker``, which claims one row at a time before it
connects and lets the server's reply decide: sent, tried again later, parked, or — when a process
died between DATA and the reply — ``uncertain`` for an operator, never sent twice by itself.
The rules in full: docs/architecture.md, "Email channel", Outbox."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import socket
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, getaddresses, parseaddr
from secrets import token_hex
from typing import Callable, Iterable, List, Mapping, Optional, Sequence

import aiosmtplib
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.service_hours import SHANGHAI
from channels.email.autoreply import AUTO_REPLY_HEADERS
from channels.email.models import (
    ATTENTION_STATES,
    DUE_STATES,
    FAILED_TEMPORARILY,
    PARKED,
    QUEUED,
    SENDING,
    SENT,
    UNCERTAIN,
    EmailOutbox,
)

log = logging.getLogger(__name__)

TLS_MODES = ("none", "starttls", "tls")
DEFAULT_PORTS = {"none": 25, "starttls": 587, "tls": 465}
CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def shanghai_now() -> datetime:
    return datetime.now(SHANGHAI)


# ---------------------------------------------------------------------------------------------
# Settings


class EmailConfigError(ValueError):
    """The SMTP settings are present but unusable; the service refuses to start."""


@dataclass(frozen=True)
class SmtpConfig:
    """How to reach the outgoing mail server and whom our mail comes from.

    Environment: ``EMAIL_SMTP_HOST`` (unset: the channel sends nothing), ``EMAIL_SMTP_PORT``
    (default 25, 587 or 465 by the TLS mode), ``EMAIL_SMTP_TLS`` (``none`` | ``starttls`` |
    ``tls``, default ``starttls``), ``EMAIL_SMTP_USERNAME``/``EMAIL_SMTP_PASSWORD`` (login after
    connecting, when a username is set), ``EMAIL_FROM`` (``长青财富客服 <service@example.com>``; its
    domain is our Message-IDs' domain; tickets' mail shows our name in the mail's language), ``EMAIL_SMTP_TIMEOUT`` (seconds per command, default 30)
    and ``EMAIL_SMTP_CA_FILE`` (a CA bundle for a private server certificate).
    """

    host: str
    port: int
    tls: str
    username: Optional[str]
    password: Optional[str]
    from_address: str
    timeout: float = 30.0
    ca_file: Optional[str] = None

    @property
    def envelope_from(self) -> str:
        return parseaddr(self.from_address)[1]

    @property
    def domain(self) -> str:
        return self.envelope_from.rsplit("@", 1)[1]

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> Optional["SmtpConfig"]:
        env = os.environ if environ is None else environ
        host = env.get("EMAIL_SMTP_HOST", "").strip()
        if not host:
            return None
        tls = env.get("EMAIL_SMTP_TLS", "starttls").strip().lower() or "starttls"
        if tls not in TLS_MODES:
            raise EmailConfigError("EMAIL_SMTP_TLS must be none, starttls or tls")
        port_text = env.get("EMAIL_SMTP_PORT", "").strip()
        try:
            port = int(port_text) if port_text else DEFAULT_PORTS[tls]
        except ValueError:
            raise EmailConfigError("EMAIL_SMTP_PORT must be a number") from None
        if not 0 < port < 65536:
            raise EmailConfigError("EMAIL_SMTP_PORT must be 1–65535")
        username = env.get("EMAIL_SMTP_USERNAME", "").strip() or None
        password = env.get("EMAIL_SMTP_PASSWORD") or None
        if password and not username:
            raise EmailConfigError("EMAIL_SMTP_PASSWORD is set without EMAIL_SMTP_USERNAME")
        from_address = env.get("EMAIL_FROM", "").strip()
        if "@" not in parseaddr(from_address)[1]:
            raise EmailConfigError("EMAIL_FROM must be an address, e.g. 'Evergreen <service@example.com>'")
        try:
            timeout = float(env.get("EMAIL_SMTP_TIMEOUT", "30") or 30)
        except ValueError:
            raise EmailConfigError("EMAIL_SMTP_TIMEOUT must be a number of seconds") from None
        return cls(host, port, tls, username, password, from_address, timeout,
                   env.get("EMAIL_SMTP_CA_FILE", "").strip() or None)


# ---------------------------------------------------------------------------------------------
# Building and enqueueing


def clean_header(value: str) -> str:
    """A header value with control characters (CR and LF above all) turned into single spaces."""
    return CONTROL.sub(" ", value or "").strip()


def build_message(
    from_address: str,
    to: Sequence[str] | str,
    subject: str,
    text: str,
    *,
    now: datetime,
    in_reply_to: Optional[str] = None,
    references: Iterable[str] = (),
    auto_reply: bool = False,
    cc: Sequence[str] = (),
    reply_to: Optional[str] = None,
    html: Optional[str] = None,
) -> EmailMessage:
    """A complete message from us. ``references`` is the thread's References (oldest first);
    ``in_reply_to`` is added at its end. The Message-ID is new, on ``from_address``'s domain.
    ``auto_reply`` marks an automatic reply (``autoreply.AUTO_REPLY_HEADERS``: Auto-Submitted,
    RFC 3834, and X-Auto-Response-Suppress for Exchange)."""
    domain = parseaddr(from_address)[1].rsplit("@", 1)[-1]
    message = EmailMessage(policy=SMTP_POLICY)
    message["From"] = clean_header(from_address)
    message["To"] = ", ".join(clean_header(a) for a in ([to] if isinstance(to, str) else to))
    if cc:
        message["Cc"] = ", ".join(clean_header(a) for a in cc)
    if reply_to:
        message["Reply-To"] = clean_header(reply_to)
    message["Subject"] = clean_header(subject)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = f"<{now.astimezone(SHANGHAI):%Y%m%d%H%M%S}.{token_hex(8)}@{domain}>"  # short: never folded
    thread = [clean_header(r) for r in references if clean_header(r)]
    if in_reply_to:
        in_reply_to = clean_header(in_reply_to)
        message["In-Reply-To"] = in_reply_to
        if in_reply_to not in thread:
            thread.append(in_reply_to)
    if thread:
        message["References"] = " ".join(thread)
    if auto_reply:
        for name, value in AUTO_REPLY_HEADERS:
            message[name] = value
    # base64 for Chinese text: no 8-bit body, whatever the server's 8BITMIME
    message.set_content(text, charset="utf-8", cte="7bit" if text.isascii() else "base64")
    if html is not None:
        message.add_alternative(html, subtype="html", charset="utf-8", cte="7bit" if html.isascii() else "base64")
    return message


def _addresses(message: EmailMessage, *headers: str) -> List[str]:
    values = [str(v) for h in headers for v in message.get_all(h, [])]
    return [address for _, address in getaddresses(values) if address]


def enqueue(
    session: Session,
    message: EmailMessage,
    *,
    now: datetime,
    conversation_id: Optional[str] = None,
    ticket_ref: Optional[str] = None,
    envelope_from: Optional[str] = None,
    recipients: Optional[Sequence[str]] = None,
) -> EmailOutbox:
    """Add ``message`` to the outbox in the caller's transaction (flushed, not committed: it is
    sent once the caller commits). Recipients default to To, Cc and Bcc (Bcc is not kept in the
    stored message); the envelope sender to From's address. A Message-ID already in the outbox
    raises ``sqlalchemy.exc.IntegrityError``."""
    if not message["Message-ID"]:
        raise ValueError("the message has no Message-ID (use build_message)")
    envelope_from = envelope_from or _addresses(message, "From")[0]
    recipients = list(recipients) if recipients is not None else _addresses(message, "To", "Cc", "Bcc")
    if not recipients:
        raise ValueError("the message has no recipients")
    if message["Bcc"] is not None:
        del message["Bcc"]
    row = EmailOutbox(
        message_id=str(message["Message-ID"]).strip(),
        envelope_from=envelope_from,
        recipients=recipients,
        subject=str(message["Subject"] or ""),
        message=message.as_bytes(policy=SMTP_POLICY),
        conversation_id=conversation_id,
        ticket_ref=ticket_ref,
        state=QUEUED,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return row


def enqueue_committed(sessions: sessionmaker, message: EmailMessage, *, now: datetime, **kwargs) -> int:
    """``enqueue`` in a transaction of its own, committed; the outbox row's id."""
    with sessions() as session:
        row = enqueue(session, message, now=now, **kwargs)
        session.commit()
        return row.id


# ---------------------------------------------------------------------------------------------
# Claims and outcomes (synchronous; the worker runs them in a thread)


@dataclass(frozen=True)
class Claim:
    id: int
    message_id: str
    envelope_from: str
    recipients: List[str]
    message: bytes
    attempts: int  # including this one


def _update(session: Session, row_id: int, *conditions, **values) -> int:
    statement = (update(EmailOutbox).where(EmailOutbox.id == row_id, *conditions).values(**values)
                 .execution_options(synchronize_session=False))
    return session.execute(statement).rowcount


def claim_next(sessions: sessionmaker, worker_id: str, now: datetime) -> Optional[Claim]:
    """Take the next due mail for ``worker_id`` (committed before returning), or ``None``."""
    with sessions() as session:
        candidates = session.execute(
            select(EmailOutbox.id).where(EmailOutbox.state.in_(DUE_STATES), EmailOutbox.next_attempt_at <= now)
            .order_by(EmailOutbox.next_attempt_at, EmailOutbox.id).limit(20)
        ).scalars().all()
        session.rollback()  # end the read before writing (SQLite: no stale snapshot to upgrade)
        for row_id in candidates:
            taken = _update(session, row_id, EmailOutbox.state.in_(DUE_STATES),
                            state=SENDING, claimed_by=worker_id, claimed_at=now, updated_at=now,
                            attempts=EmailOutbox.attempts + 1)
            session.commit()
            if taken != 1:
                continue  # another worker was first
            row = session.get(EmailOutbox, row_id)
            return Claim(row.id, row.message_id, row.envelope_from, list(row.recipients), bytes(row.message), row.attempts)
    return None


def _mine(worker_id: str):
    return (EmailOutbox.claimed_by == worker_id, EmailOutbox.state.in_((SENDING, UNCERTAIN)))


def mark_sent(sessions: sessionmaker, claim: Claim, worker_id: str, now: datetime, reply: str) -> bool:
    with sessions() as session:
        done = _update(session, claim.id, *_mine(worker_id), state=SENT, sent_at=now, updated_at=now, last_reply=reply)
        session.commit()
        return done == 1


def mark_failed(sessions: sessionmaker, claim: Claim, worker_id: str, now: datetime, state: str, reply: str,
                next_attempt_at: Optional[datetime] = None) -> bool:
    values = dict(state=state, updated_at=now, last_reply=reply[:2000])
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    with sessions() as session:
        done = _update(session, claim.id, *_mine(worker_id), **values)
        session.commit()
        return done == 1


def recover_interrupted(sessions: sessionmaker, now: datetime, stale_after: timedelta) -> List[int]:
    """Rows left in ``sending`` by a worker that is gone (claimed before ``now - stale_after``)
    become ``uncertain``: the server may have accepted them, so they are not sent again."""
    with sessions() as session:
        ids = session.execute(
            select(EmailOutbox.id).where(EmailOutbox.state == SENDING, EmailOutbox.claimed_at <= now - stale_after)
        ).scalars().all()
        session.rollback()
        changed = []
        for row_id in ids:
            if _update(session, row_id, EmailOutbox.state == SENDING, EmailOutbox.claimed_at <= now - stale_after,
                       state=UNCERTAIN, updated_at=now,
                       last_reply="interrupted while sending: the server may or may not have accepted it"):
                changed.append(row_id)
        session.commit()
    for row_id in changed:
        log.warning("email outbox %s: interrupted while sending; left for an operator as uncertain", row_id)
    return changed


# ---------------------------------------------------------------------------------------------
# Operators


@dataclass(frozen=True)
class OutboxItem:
    id: int
    message_id: str
    state: str
    subject: str
    recipients: List[str]
    ticket_ref: Optional[str]
    conversation_id: Optional[str]
    attempts: int
    last_reply: Optional[str]
    created_at: datetime
    updated_at: datetime


def needs_attention(sessions: sessionmaker) -> List[OutboxItem]:
    """Parked and uncertain mail, oldest first: what an operator must decide on."""
    with sessions() as session:
        rows = session.execute(
            select(EmailOutbox).where(EmailOutbox.state.in_(ATTENTION_STATES)).order_by(EmailOutbox.updated_at, EmailOutbox.id)
        ).scalars().all()
        return [OutboxItem(r.id, r.message_id, r.state, r.subject, list(r.recipients), r.ticket_ref, r.conversation_id,
                           r.attempts, r.last_reply, r.created_at, r.updated_at) for r in rows]


def requeue(sessions: sessionmaker, outbox_id: int, now: datetime) -> bool:
    """An operator sends a parked or uncertain mail again (attempts start over)."""
    with sessions() as session:
        done = _update(session, outbox_id, EmailOutbox.state.in_(ATTENTION_STATES), state=QUEUED, attempts=0,
                       next_attempt_at=now, claimed_by=None, claimed_at=None, updated_at=now)
        session.commit()
        return done == 1


def confirm_sent(sessions: sessionmaker, outbox_id: int, now: datetime) -> bool:
    """An operator found an uncertain mail in the server's log: it was sent."""
    with sessions() as session:
        done = _update(session, outbox_id, EmailOutbox.state == UNCERTAIN, state=SENT, sent_at=now, updated_at=now)
        session.commit()
        return done == 1


# ---------------------------------------------------------------------------------------------
# SMTP


@dataclass
class Outcome:
    result: str  # sent | temporary | permanent | uncertain
    reply: str


def _reply(error: aiosmtplib.SMTPResponseException) -> str:
    return f"{error.code} {error.message}".strip()


def _tls_context(config: SmtpConfig) -> Optional[ssl.SSLContext]:
    return ssl.create_default_context(cafile=config.ca_file) if config.ca_file else None


async def deliver(config: SmtpConfig, envelope_from: str, recipients: Sequence[str], message: bytes,
                  progress: Optional[dict] = None) -> Outcome:
    """One SMTP transaction. ``progress["stage"]`` says how far it got (for a caller that cuts
    it off): connect, mail, rcpt, data, done."""
    progress = progress if progress is not None else {}
    progress["stage"] = "connect"
    smtp = aiosmtplib.SMTP(
        hostname=config.host, port=config.port, username=config.username, password=config.password,
        use_tls=config.tls == "tls", start_tls=config.tls == "starttls", timeout=config.timeout,
        tls_context=_tls_context(config),
    )
    try:
        try:
            await smtp.connect()
        except aiosmtplib.SMTPResponseException as error:
            return Outcome("temporary", f"connecting: {_reply(error)}")
        except (OSError, asyncio.TimeoutError, aiosmtplib.SMTPException) as error:
            return Outcome("temporary", f"connecting: {type(error).__name__}: {error}")
        try:
            progress["stage"] = "mail"
            await smtp.mail(envelope_from)
            progress["stage"] = "rcpt"
            refusals = []
            for recipient in recipients:
                try:
                    await smtp.rcpt(recipient)
                except aiosmtplib.SMTPRecipientRefused as error:
                    refusals.append((recipient, error))
            if refusals:
                text = "; ".join(f"{r}: {_reply(e)}" for r, e in refusals)
                permanent = any(e.code >= 500 for _, e in refusals)
                return Outcome("permanent" if permanent else "temporary", text)
        except aiosmtplib.SMTPResponseException as error:
            return Outcome("permanent" if error.code >= 500 else "temporary", _reply(error))
        except (OSError, asyncio.TimeoutError, aiosmtplib.SMTPException) as error:
            return Outcome("temporary", f"{type(error).__name__}: {error}")
        progress["stage"] = "data"
        try:
            response = await smtp.data(message)
        except aiosmtplib.SMTPResponseException as error:  # a definite answer: not accepted
            return Outcome("permanent" if error.code >= 500 else "temporary", _reply(error))
        except (OSError, asyncio.TimeoutError, aiosmtplib.SMTPException) as error:
            return Outcome("uncertain", f"during DATA: {type(error).__name__}: {error}")
        progress["stage"] = "done"
        return Outcome("sent", f"{response.code} {response.message}".strip())
    finally:
        if smtp.is_connected:
            try:
                await asyncio.wait_for(smtp.quit(), timeout=5)
            except Exception:  # noqa: BLE001 — the outcome is already known
                smtp.close()


# ---------------------------------------------------------------------------------------------
# The worker


class OutboxWorker:
    """Sends due mail one at a time. ``start()`` recovers abandoned claims and runs the loop;
    ``run_once()`` sends everything due now (tests and commands call it directly)."""

    def __init__(
        self,
        sessions: sessionmaker,
        config: SmtpConfig,
        *,
        worker_id: Optional[str] = None,
        clock: Callable[[], datetime] = shanghai_now,
        poll_interval: float = 5.0,
        stale_after: timedelta = timedelta(minutes=10),
        send_deadline: float = 120.0,
        max_attempts: int = 10,
        base_delay: timedelta = timedelta(seconds=30),
        max_delay: timedelta = timedelta(hours=1),
    ) -> None:
        self.sessions = sessions
        self.config = config
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{token_hex(3)}"
        self.clock = clock
        self.poll_interval = poll_interval
        self.stale_after = stale_after
        self.send_deadline = send_deadline
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._wake = asyncio.Event()
        self._task: Optional[asyncio.Task] = None

    def backoff(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failed attempt: 30 s, 1 min, 2 min, ... at most 1 h."""
        return min(self.base_delay * (2 ** max(attempts - 1, 0)), self.max_delay)

    async def recover(self) -> List[int]:
        return await asyncio.to_thread(recover_interrupted, self.sessions, self.clock(), self.stale_after)

    async def start(self) -> None:
        await self.recover()
        self._task = asyncio.create_task(self._loop(), name=f"email-outbox-{self.worker_id}")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    def wake(self) -> None:
        """Something was enqueued: look now rather than at the next poll."""
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            try:
                await self.recover()
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 — the database may be away for a while; try again
                log.exception("email outbox round failed")
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()

    async def run_once(self) -> int:
        """Send every mail due now, one by one; how many were attempted."""
        count = 0
        while True:
            claim = await asyncio.to_thread(claim_next, self.sessions, self.worker_id, self.clock())
            if claim is None:
                return count
            count += 1
            await self.send(claim)

    async def send(self, claim: Claim) -> Outcome:
        progress: dict = {}
        try:
            outcome = await asyncio.wait_for(
                deliver(self.config, claim.envelope_from, claim.recipients, claim.message, progress), self.send_deadline)
        except asyncio.TimeoutError:
            stage = progress.get("stage", "connect")
            outcome = Outcome("uncertain" if stage in ("data", "done") else "temporary",
                              f"no answer within {self.send_deadline:g} s ({stage})")
        await asyncio.to_thread(self.record, claim, outcome)
        return outcome

    def record(self, claim: Claim, outcome: Outcome) -> None:
        now = self.clock()
        if outcome.result == "sent":
            mark_sent(self.sessions, claim, self.worker_id, now, outcome.reply)
            log.info("email outbox %s sent: %s", claim.id, outcome.reply)
        elif outcome.result == "permanent":
            mark_failed(self.sessions, claim, self.worker_id, now, PARKED, outcome.reply)
            log.warning("email outbox %s parked (refused): %s", claim.id, outcome.reply)
        elif outcome.result == "uncertain":
            mark_failed(self.sessions, claim, self.worker_id, now, UNCERTAIN, outcome.reply)
            log.warning("email outbox %s uncertain: %s", claim.id, outcome.reply)
        elif claim.attempts >= self.max_attempts:
            mark_failed(self.sessions, claim, self.worker_id, now, PARKED,
                        f"gave up after {claim.attempts} attempts: {outcome.reply}")
            log.warning("email outbox %s parked after %s attempts: %s", claim.id, claim.attempts, outcome.reply)
        else:
            mark_failed(self.sessions, claim, self.worker_id, now, FAILED_TEMPORARILY, outcome.reply,
                        next_attempt_at=now + self.backoff(claim.attempts))
            log.info("email outbox %s will be retried (attempt %s): %s", claim.id, claim.attempts, outcome.reply)
