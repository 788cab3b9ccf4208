"""Conversations and messages in the database. Synchronous; the app calls it off the event loop."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.core.models import Conversation, Customer, Message, utcnow
from bot.core.time import as_aware
from bot.core.vault import Vault
from bot.privacy import mask_sensitive
from bot.service_hours import SHANGHAI


@dataclass(frozen=True)
class Button:
    """A button the assistant sent: what it says, and the payload it sends the assistant."""

    title: str
    payload: str


# A message the assistant failed on waits RETRY_BACKOFF_CAP at most between attempts.
RETRY_BACKOFF_CAP = timedelta(minutes=5)
# How long a process answering a message holds it (its claim): longer than an answer takes
# (Rasa's timeout is 30 s), short enough that a killed process's messages are answered soon.
ANSWER_CLAIM = timedelta(seconds=90)


def message_dict(message: Message) -> Dict[str, Any]:
    """A message as the API shows it (docs/contact-api.md)."""
    return {
        "id": message.id,
        "client_message_id": message.client_message_id,
        "direction": message.direction,
        "sender": message.sender,
        "text": message.text,
        "buttons": message.buttons or [],
        "disclosure": message.disclosure,
        "created_at": as_aware(message.created_at).astimezone(SHANGHAI).isoformat(timespec="seconds"),
    }


class ConversationStore:
    def __init__(self, sessions: sessionmaker, vault: Vault):
        self.sessions = sessions
        self.vault = vault

    def customer(self, customer_id: str) -> Optional[Customer]:
        with self.sessions() as session:
            return session.get(Customer, customer_id)

    def open_conversation(self, conversation_id: str, customer_id: Optional[str], channel: str, language: Optional[str]) -> Conversation:
        """The conversation, created on first use; a given language becomes its language."""
        with self.sessions() as session:
            conversation = session.get(Conversation, conversation_id)
            if conversation is None:
                conversation = Conversation(id=conversation_id, customer_id=customer_id, channel=channel, owner="bot")
            if language:
                conversation.language = language
            session.add(conversation)
            try:
                session.commit()
            except IntegrityError:  # created at the same moment by another request
                session.rollback()
                conversation = session.get(Conversation, conversation_id)
            return conversation

    def set_language(self, conversation_id: str, language: str) -> None:
        """The conversation's language from now on (the language the assistant last answered in)."""
        with self.sessions() as session:
            session.get(Conversation, conversation_id).language = language
            session.commit()

    def conversation(self, conversation_id: str) -> Optional[Conversation]:
        with self.sessions() as session:
            return session.get(Conversation, conversation_id)

    def add_inbound(self, session: Session, conversation_id: str, client_message_id: str, text: str, *,
                    sealed_from: Optional[str] = None, status: Optional[str] = None, payload: Optional[str] = None,
                    origin: Optional[str] = None) -> Message:
        """The only way a customer message enters, from any channel (a test holds every channel
        to it): ``text`` is stored with secrets and personal numbers masked, the mobile numbers of
        ``sealed_from`` (default: ``text``) sealed beside it, in the caller's transaction. The
        message is for the assistant (``pending``) while the assistant has the conversation, for
        the agents (``for_agent``) while they have it, unless ``status`` says otherwise. A pending
        message is claimed (:meth:`claim`) by the storing process, which answers it next."""
        if status is None:
            status = "pending" if session.get(Conversation, conversation_id).owner == "bot" else "for_agent"
        message = Message(conversation_id=conversation_id, client_message_id=client_message_id, direction="in",
                          sender="customer", text=mask_sensitive(text), status=status, payload=payload, origin=origin,
                          claimed_until=utcnow() + ANSWER_CLAIM if status == "pending" else None)
        session.add(message)
        session.flush()
        for number in self.vault.seal(conversation_id, text if sealed_from is None else sealed_from):
            number.message_id = message.id
            session.add(number)
        return message

    def for_assistant(self, message_id: int) -> None:
        """A message kept for the agents goes to the assistant after all (the customer left the
        queue with it, or the agents had closed); claimed by this process, which answers it next."""
        with self.sessions() as session:
            message = session.get(Message, message_id)
            if message.status == "for_agent":
                message.status, message.claimed_until = "pending", utcnow() + ANSWER_CLAIM
                session.commit()

    def claim(self, message_id: int, now: datetime) -> bool:
        """Take a pending message to answer it, unless another process holds it (its claim has
        not run out): of several processes (or the retry loop and a live answer) one gets it."""
        with self.sessions() as session:
            taken = session.execute(
                update(Message).where(Message.id == message_id, Message.status == "pending",
                                      or_(Message.claimed_until.is_(None), Message.claimed_until <= now))
                .values(claimed_until=now + ANSWER_CLAIM).execution_options(synchronize_session=False)).rowcount
            session.commit()
            return taken == 1

    def unclaim(self, message_id: int) -> None:
        """The answer failed: the message, still pending, is free for the retry loop at once."""
        with self.sessions() as session:
            session.execute(update(Message).where(Message.id == message_id, Message.status == "pending")
                            .values(claimed_until=None).execution_options(synchronize_session=False))
            session.commit()

    def store_inbound(self, conversation_id: str, client_message_id: str, text: str, also: Sequence[Any] = (),
                      payload: Optional[str] = None, origin: Optional[str] = None) -> Tuple[Message, bool]:
        """Store a customer message (:meth:`add_inbound`) once per client message id, with
        ``also`` any rows a channel commits with it (Telegram's update id, so a crash cannot keep
        one without the other); (message, was it a resend). A tapped button is stored as its
        title (``text``) with the ``payload`` the service issued for it (:meth:`button`);
        ``origin`` is the keyed hash of where it came from."""
        with self.sessions() as session:
            existing = self._by_client_id(session, conversation_id, client_message_id)
            if existing:
                return existing, True
            try:
                message = self.add_inbound(session, conversation_id, client_message_id, text, payload=payload, origin=origin)
                session.add_all(also)
                session.commit()
            except IntegrityError:
                session.rollback()
                return self._by_client_id(session, conversation_id, client_message_id), True
            return message, False

    @staticmethod
    def _by_client_id(session, conversation_id: str, client_message_id: str) -> Optional[Message]:
        return session.execute(
            select(Message).where(
                Message.conversation_id == conversation_id, Message.client_message_id == client_message_id
            )
        ).scalar_one_or_none()

    def store_replies(self, inbound: Message, replies: List[Dict[str, Any]], sender: str = "bot", answered: bool = True,
                      understanding: Optional[Dict[str, Any]] = None) -> Optional[List[Message]]:
        """Store replies to ``inbound``; when ``answered`` the inbound message is done, with what
        the assistant ``understood`` in it, unless it was answered already (two processes asked
        the assistant when a claim ran out mid-answer): then nothing is stored (None)."""
        with self.sessions() as session:
            if answered:
                understood = {}
                if understanding:
                    understood = {"intent": (understanding.get("intent") or "")[:64] or None,
                                  "confidence": understanding.get("confidence"),
                                  "action": (understanding.get("action") or "")[:64] or None}  # the first to answer
                done = session.execute(update(Message).where(Message.id == inbound.id, Message.status == "pending")
                                       .values(status="answered", **understood)
                                       .execution_options(synchronize_session=False)).rowcount
                if done != 1:
                    session.rollback()
                    return None
            stored = [
                Message(
                    conversation_id=inbound.conversation_id, direction="out", sender=sender, text=reply["text"],
                    buttons=reply.get("buttons") or None, disclosure=reply.get("disclosure"),
                    status="sent", reply_to=inbound.id, action=reply.get("action"),
                )
                for reply in replies
            ]
            session.add_all(stored)
            session.commit()
            return stored

    def store_outbound(self, conversation_id: str, text: str, sender: str,
                       buttons: Optional[List[Dict[str, str]]] = None, disclosure: Optional[str] = None,
                       action: Optional[str] = None) -> Message:
        """A message to the customer that answers no particular message (queue place, agent
        joined, the survey after an agent's service)."""
        with self.sessions() as session:
            message = Message(conversation_id=conversation_id, direction="out", sender=sender, text=text,
                              buttons=buttons or None, disclosure=disclosure, status="sent", action=action)
            session.add(message)
            session.commit()
            return message

    def button(self, conversation_id: str, message_id: int, index: int) -> Optional[Button]:
        """The ``index``-th button of a message the service sent in this conversation, or ``None``:
        the only way a customer's tap becomes a payload for the assistant."""
        with self.sessions() as session:
            message = session.get(Message, message_id)
            if message is None or message.conversation_id != conversation_id or message.direction != "out":
                return None
            buttons = message.buttons or []
            found = buttons[index] if 0 <= index < len(buttons) and isinstance(buttons[index], dict) else {}
            title, payload = found.get("title"), found.get("payload")
            if not (isinstance(title, str) and title and isinstance(payload, str) and payload):
                return None
            return Button(title, payload)

    def record_failure(self, inbound: Message, now: datetime, first_wait: timedelta, max_attempts: int,
                       notice: str) -> Optional[Message]:
        """The assistant failed on ``inbound`` (not an outage): count the attempt and set when the
        retry loop may try again (``first_wait``, doubling, at most RETRY_BACKOFF_CAP); at
        ``max_attempts`` the message is parked and ``notice`` is stored as its reply, in the same
        transaction, and returned (the customer is told once)."""
        with self.sessions() as session:
            message = session.get(Message, inbound.id)
            if message is None or message.status != "pending":
                return None
            message.attempts += 1
            if message.attempts < max_attempts:
                message.next_attempt_at = now + min(first_wait * 2 ** (message.attempts - 1), RETRY_BACKOFF_CAP)
                session.commit()
                return None
            message.status, message.next_attempt_at = "parked", None
            told = Message(conversation_id=message.conversation_id, direction="out", sender="system", text=notice,
                           status="sent", reply_to=message.id)
            session.add(told)
            session.commit()
            return told

    def parked(self, limit: int = 200) -> List[Message]:
        """Customer messages the assistant failed on too often, newest first (for supervisors)."""
        with self.sessions() as session:
            query = select(Message).where(Message.direction == "in", Message.status == "parked").order_by(Message.id.desc())
            return list(session.execute(query.limit(limit)).scalars())

    def unpark(self, message_id: int, audited: Callable[[Session], Any]) -> Optional[Message]:
        """Put a parked message back for the retry loop (after the cause was fixed), attempts
        reset; ``audited`` adds the audit entry in the same transaction."""
        with self.sessions() as session:
            message = session.get(Message, message_id)
            if message is None or message.direction != "in" or message.status != "parked":
                return None
            message.status, message.attempts, message.next_attempt_at = "pending", 0, None
            audited(session)
            session.commit()
            return message

    def replies_to(self, inbound_id: int) -> List[Message]:
        with self.sessions() as session:
            return list(session.execute(select(Message).where(Message.reply_to == inbound_id).order_by(Message.id)).scalars())

    def history(self, conversation_id: str, after: int = 0, limit: int = 500) -> List[Message]:
        with self.sessions() as session:
            query = (
                select(Message)
                .where(Message.conversation_id == conversation_id, Message.id > after)
                .order_by(Message.id)
                .limit(limit)
            )
            return list(session.execute(query).scalars())

    def pending_inbound(self, now: datetime, limit: int = 50) -> List[Message]:
        """Customer messages the assistant has not answered yet and may try now, oldest first."""
        with self.sessions() as session:
            query = (select(Message)
                     .where(Message.direction == "in", Message.status == "pending",
                            or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= now))
                     .order_by(Message.id).limit(limit))
            return list(session.execute(query).scalars())
