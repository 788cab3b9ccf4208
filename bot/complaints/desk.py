"""Registering complaints and looking them up for their owner.

Filing is idempotent by ``source_key`` (the conversation and the customer message that confirmed
the complaint), so a message the contact service retries after an outage files one complaint,
not two. The complaint is committed before anyone is told its reference.

**Urgent complaints are limited**: at most URGENT_PER_CONVERSATION per conversation and
URGENT_PER_ORIGIN per origin (the keyed hash of the client address, Telegram user or mail sender)
in any URGENT_WINDOW. Each goes to the head of every queue with regulatory deadlines running, so
a flood of made-up fraud reports from one place must not file one each; beyond the limit the
caller still hands the customer to a person (they may really be in trouble) but files nothing.
The count is made in the filing transaction, after the insert, and urgent filings take turns
(the database's write lock on SQLite, an advisory lock on PostgreSQL), so several processes
filing at once cannot all slip under it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import List, Optional

from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import Session, sessionmaker

from bot.complaints.models import CATEGORIES, SEVERITIES, Complaint, ComplaintEvent
from bot.core.vault import sealed_number
from bot.privacy import mask_sensitive
from bot.references import insert_once
from bot.service_hours import SHANGHAI
from bot.working_calendar import complaint_deadlines

OPEN_STATES = ("received", "acknowledged", "investigating")
URGENT_WINDOW = timedelta(hours=1)
URGENT_PER_CONVERSATION, URGENT_PER_ORIGIN = 2, 3
_URGENT_LOCK = 1_403_000_014  # PostgreSQL advisory lock taken by urgent filings, one at a time


class UrgentLimitReached(Exception):
    """An urgent complaint over the limit (module docstring): nothing was filed."""

    def __init__(self, counted_by: str):
        super().__init__(f"too many urgent complaints from this {counted_by} within {URGENT_WINDOW}")
        self.counted_by = counted_by  # "conversation" or "origin"


@dataclass(frozen=True)
class ComplaintDraft:
    """What the customer told the assistant, before it becomes a complaint."""

    source_key: str
    conversation_id: Optional[str]
    customer_id: Optional[str]
    channel: str
    language: str
    category: str
    description: str
    desired_outcome: Optional[str] = None
    product: Optional[str] = None
    contact: Optional[str] = None
    severity: str = "general"
    urgent: bool = False
    origin: Optional[str] = None  # keyed hash of where it came from (urgent ones are limited by it)


class ComplaintDesk:
    def __init__(self, sessions: sessionmaker):
        self.sessions = sessions

    def file(self, draft: ComplaintDraft, received_at: datetime) -> Complaint:
        """The complaint for ``draft.source_key``, registered now if it is not yet. Raises
        UrgentLimitReached for an urgent one over the limit (module docstring)."""
        if draft.category not in CATEGORIES or draft.severity not in SEVERITIES:
            raise ValueError(f"unknown category {draft.category!r} or severity {draft.severity!r}")
        received_at = received_at.astimezone(SHANGHAI)
        deadlines = complaint_deadlines(received_at, draft.severity)
        contact = mask_sensitive(draft.contact) if draft.contact else None
        with self.sessions() as session:
            contact_ref = sealed_number(session, draft.conversation_id, contact)

        def make(reference: str) -> Complaint:
            return Complaint(
                reference=reference,
                source_key=draft.source_key,
                conversation_id=draft.conversation_id,
                customer_id=draft.customer_id,
                channel=draft.channel,
                origin=draft.origin,
                language=draft.language,
                category=draft.category,
                severity=draft.severity,
                urgent=draft.urgent,
                product=draft.product,
                description=mask_sensitive(draft.description),
                desired_outcome=mask_sensitive(draft.desired_outcome) if draft.desired_outcome else None,
                contact=contact,
                contact_ref=contact_ref,
                state="received",
                received_at=received_at,
                first_reply_due=deadlines.first_reply,
                resolution_due=deadlines.resolution,
                regulatory_due=deadlines.regulatory,
                regulatory_extension_days=0,
                overdue=[],
                updated_at=received_at,
            )

        def record_receipt(session: Session, complaint: Complaint) -> None:
            if draft.urgent:
                self._check_urgent_limits(session, draft, received_at)
            session.add(ComplaintEvent(
                complaint_id=complaint.id, at=received_at, actor="assistant", kind="received",
                detail={"category": draft.category, "severity": draft.severity, "urgent": draft.urgent,
                        "channel": draft.channel},
            ))

        return insert_once(self.sessions, Complaint, "C", received_at, draft.source_key, make, record_receipt)

    @staticmethod
    def _check_urgent_limits(session: Session, draft: ComplaintDraft, received_at: datetime) -> None:
        """Raise UrgentLimitReached if the urgent complaint just inserted (and so counted) is one
        too many; urgent filings take turns, so each counts the others' committed rows."""
        if session.get_bind().dialect.name == "postgresql":  # SQLite: the insert holds the write lock
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _URGENT_LOCK})
        recent = select(func.count(Complaint.id)).where(Complaint.urgent.is_(True),
                                                        Complaint.received_at > received_at - URGENT_WINDOW)
        for counted_by, column, value, limit in (
                ("conversation", Complaint.conversation_id, draft.conversation_id, URGENT_PER_CONVERSATION),
                ("origin", Complaint.origin, draft.origin, URGENT_PER_ORIGIN)):
            if value is not None and session.execute(recent.where(column == value)).scalar_one() > limit:
                raise UrgentLimitReached(counted_by)

    @staticmethod
    def _owned_by(customer_id: Optional[str], conversation_id: Optional[str]):
        """Owner: the verified customer, or else the (server-derived) conversation it was filed in."""
        conditions = []
        if customer_id:
            conditions.append(Complaint.customer_id == customer_id)
        if conversation_id:
            conditions.append(Complaint.conversation_id == conversation_id)
        return or_(*conditions) if conditions else None

    def for_owner(self, reference: str, customer_id: Optional[str], conversation_id: Optional[str]) -> Optional[Complaint]:
        """The complaint with ``reference`` if it belongs to this customer; None otherwise."""
        owned = self._owned_by(customer_id, conversation_id)
        if owned is None:
            return None
        with self.sessions() as session:
            query = select(Complaint).where(Complaint.reference == reference.upper(), owned)
            return session.execute(query).scalar_one_or_none()

    def open_for_owner(self, customer_id: Optional[str], conversation_id: Optional[str]) -> List[Complaint]:
        owned = self._owned_by(customer_id, conversation_id)
        if owned is None:
            return []
        with self.sessions() as session:
            query = select(Complaint).where(owned, Complaint.state.in_(OPEN_STATES)).order_by(Complaint.id)
            return list(session.execute(query).scalars())

    def events(self, complaint_id: int) -> List[ComplaintEvent]:
        with self.sessions() as session:
            query = select(ComplaintEvent).where(ComplaintEvent.complaint_id == complaint_id).order_by(ComplaintEvent.id)
            return list(session.execute(query).scalars())
