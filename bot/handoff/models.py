"""A handoff: one conversation's stay with the human agents, from request to resolution."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Text

from bot.core.time import ShanghaiTime
from bot.core.models import Base

REASONS = ("customer_request", "misunderstood", "urgent", "fraud", "private_advisor", "email")
QUEUES = ("private", "general")
TIER_RANK = {"private": 0, "premier": 1, "standard": 2}  # served in this order after urgent cases


class Handoff(Base):
    """state: waiting → with_agent → resolved; or waiting → withdrawn (agents closed, customer left).

    Only one handoff of a conversation is open (waiting or with_agent) at a time; the
    conversation's ``owner`` says the same ("queued", "agent"), in the same transaction.
    """

    __tablename__ = "handoffs"
    id = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id = Column(String(80), ForeignKey("conversations.id"), nullable=False, index=True)
    customer_id = Column(String(64))
    tier = Column(String(16), nullable=False)
    language = Column(String(2), nullable=False)
    channel = Column(String(16), nullable=False, default="web")  # the conversation's: web, app, telegram, ...
    reason = Column(String(24), nullable=False)
    queue = Column(String(16), nullable=False)
    urgent = Column(Boolean, nullable=False, default=False)
    complaint_reference = Column(String(16))
    summary = Column(Text)  # what the customer asked last, masked
    state = Column(String(16), nullable=False, default="waiting", index=True)
    agent_id = Column(String(64), ForeignKey("staff.id"))
    requested_at = Column(ShanghaiTime, nullable=False)
    claimed_at = Column(ShanghaiTime)
    resolved_at = Column(ShanghaiTime)
