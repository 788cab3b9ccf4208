"""Complaint tables. A complaint's history is a list of events that are only ever added to."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, ForeignKey, Integer, String, Text, UniqueConstraint

from bot.core.models import Base
from bot.core.time import ShanghaiTime

CATEGORIES = ("product_service", "fees", "contract_legal", "other")
SEVERITIES = ("general", "complex")
STATES = ("received", "acknowledged", "investigating", "resolved", "closed")


class Complaint(Base):
    __tablename__ = "complaints"
    id = Column(Integer, primary_key=True, autoincrement=True)
    reference = Column(String(16), nullable=False, unique=True)  # C20261128-483924 (bot/references.py)
    # Makes intake idempotent: the conversation and the customer message that confirmed it.
    source_key = Column(String(160), nullable=False, unique=True)
    conversation_id = Column(String(80), index=True)
    customer_id = Column(String(64), index=True)
    channel = Column(String(16), nullable=False)
    # Keyed hash of where it came from (client address, Telegram user, mail sender): urgent ones are limited by it.
    origin = Column(String(64), index=True)
    language = Column(String(2), nullable=False)
    category = Column(String(24), nullable=False)
    severity = Column(String(8), nullable=False, default="general")
    urgent = Column(Boolean, nullable=False, default=False)
    product = Column(String(16))
    description = Column(Text, nullable=False)  # personal numbers masked
    desired_outcome = Column(Text)
    contact = Column(String(200))  # masked, as the customer gave it (or "registered", "chat")
    contact_ref = Column(Integer, ForeignKey("personal_numbers.id"))  # the sealed mobile number
    state = Column(String(16), nullable=False, default="received")
    assignee = Column(String(64))
    received_at = Column(ShanghaiTime, nullable=False)
    first_reply_due = Column(ShanghaiTime, nullable=False)
    resolution_due = Column(ShanghaiTime, nullable=False)
    regulatory_due = Column(ShanghaiTime, nullable=False)
    regulatory_extension_days = Column(Integer, nullable=False, default=0)
    first_replied_at = Column(ShanghaiTime)
    resolved_at = Column(ShanghaiTime)
    closed_at = Column(ShanghaiTime)
    resolution = Column(Text)
    # Deadlines missed so far ("first_reply", "resolution", "regulatory"), set by the overdue job.
    overdue = Column(JSON, nullable=False, default=list)
    updated_at = Column(ShanghaiTime, nullable=False)


class ComplaintEvent(Base):
    """Who did what to a complaint, and when. Never updated or deleted."""

    __tablename__ = "complaint_events"
    __table_args__ = (UniqueConstraint("complaint_id", "dedupe_key", name="uq_complaint_event_once"),)
    id = Column(Integer, primary_key=True, autoincrement=True)
    complaint_id = Column(Integer, ForeignKey("complaints.id"), nullable=False, index=True)
    at = Column(ShanghaiTime, nullable=False)
    actor = Column(String(80), nullable=False)  # customer | assistant | system | staff:<id>
    kind = Column(String(24), nullable=False)
    detail = Column(JSON, nullable=False, default=dict)
    # Set for events that must happen once (an escalation for a given missed deadline).
    dedupe_key = Column(String(64))
