"""Tables of the contact service (SQLAlchemy). Migrations live in ``migrations/``."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import JSON, Column, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import declarative_base

from bot import service_hours

Base = declarative_base()


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def business_now() -> datetime:
    """The time conversations and messages are stamped with: the service's clock
    (``EVERGREEN_CLOCK`` freezes it in tests and demos, like every deadline and agent hour),
    in UTC as the columns keep it."""
    return service_hours.now().astimezone(timezone.utc)


class Customer(Base):
    """A customer profile imported from the CRM; the signed identity names one of these."""

    __tablename__ = "customers"
    id = Column(String(64), primary_key=True)
    name = Column(String(200), nullable=False)
    tier = Column(String(16), nullable=False)  # private | premier | standard
    risk_level = Column(String(2))  # C1–C5, or NULL when never assessed
    risk_expires = Column(String(10))  # ISO date
    language = Column(String(2), nullable=False, default="zh")
    updated_at = Column(DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow)
    # The optional email address (bot/core/customers.py): sealed, and found by its keyed hash.
    email_key = Column(String(64), index=True)
    email_sealed = Column(Text)


class Conversation(Base):
    """One customer's (or visitor's) conversation; ``owner`` is who answers it now."""

    __tablename__ = "conversations"
    id = Column(String(80), primary_key=True)
    customer_id = Column(String(64), ForeignKey("customers.id"))
    channel = Column(String(16), nullable=False)
    owner = Column(String(32), nullable=False, default="bot")
    language = Column(String(2))
    created_at = Column(DateTime(timezone=True), nullable=False, default=business_now)


class Message(Base):
    """A message in a conversation. Inbound ones are stored before they are acknowledged."""

    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("conversation_id", "client_message_id", name="uq_message_client_id"),)
    id = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id = Column(String(80), ForeignKey("conversations.id"), nullable=False, index=True)
    client_message_id = Column(String(64))
    direction = Column(String(3), nullable=False)  # in | out
    sender = Column(String(16), nullable=False)  # customer | bot | agent | system
    text = Column(Text, nullable=False)
    buttons = Column(JSON)
    disclosure = Column(Text)
    # inbound: pending (not yet answered) | answered | for_agent (agents had the conversation) |
    # parked (the assistant failed on it MAX_ATTEMPTS times; supervisors see it); outbound: sent
    status = Column(String(16), nullable=False)
    reply_to = Column(Integer, ForeignKey("messages.id"))
    created_at = Column(DateTime(timezone=True), nullable=False, default=business_now)
    # What the assistant understood (a customer message it answered: intent as "faq/<topic>" for
    # FAQ questions, "nlu_fallback" when it did not understand) and which of its actions answered
    # it first, or said a reply; the supervisors' indicators are computed from them (bot/quality/).
    intent = Column(String(64))
    confidence = Column(Float)
    action = Column(String(64))
    # A button the customer tapped: the payload the service issued with it, sent to the assistant
    # instead of the text (customer text never reaches Rasa as intent syntax: rasa_client.as_customer_words).
    payload = Column(Text)
    # Failed answers of this message (not counting outages) and when the retry loop may try again;
    # after MAX_ATTEMPTS the message is parked for supervisors.
    attempts = Column(Integer, nullable=False, default=0, server_default="0")
    next_attempt_at = Column(DateTime(timezone=True))
    # Until when a process answering this pending message holds it (ConversationStore.claim): the
    # others leave it alone; a killed process's claim runs out and the retry loop answers it.
    claimed_until = Column(DateTime(timezone=True))
    # Keyed hash of where the message came from (client address, Telegram user, mail sender), for
    # abuse limits that must not store the address itself.
    origin = Column(String(64))
