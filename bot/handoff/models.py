"""A handoff: one conversation's stay with the human agents, from request to resolution."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Text

from bot.core.time import ShanghaiTime
from bot.core.models import Base

REASONS = ("customer_request", "misunderstood", "urgent", "fraud", "private_advisor", "email")
QUEUES = ("private", "general")
TIER_RANK = {"private": 0, "premier": 1, "standard": 2}  # served in this order after urgent cases


class Handoff(Base):
    """state: waiting → with_agent → resolved; or waiting → withdrawn (the customer left the
    queue, or took a callback: ``callback_reference``, booked at closing time).

    Only one handoff of a conversation is open (waiting or with_agent) at a time; the
    conversation's ``owner`` says the same ("queued", "agent"), in the same transaction. One
    exception: a message left for the agents (``left_message_at``) waits in the queue, after the
    customers waiting live, also when the agents have closed and the assistant answers the
    customer again (``owner`` "bot") until an agent takes it in the morning.
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
    # Honest waiting (migration 0019, docs/architecture.md "Honest waiting").
    acknowledged_at = Column(ShanghaiTime)  # the customer last told their message reached the agents
    callback_offered_at = Column(ShanghaiTime)  # offered once, after the long wait
    left_message_at = Column(ShanghaiTime)  # no longer waiting live: a message for the agents
    callback_reference = Column(String(20))  # the callback booked instead of waiting on (at closing)
