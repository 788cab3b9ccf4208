"""Registering complaints and looking them up for their owner.

Filing is idempotent by ``source_key`` (the conversation and the customer message that confirmed
the complaint), so a message the contact service retries after an outage files one complaint,
not two. The complaint is committed before anyone is told its reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import List, Optional

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from bot.complaints.models import CATEGORIES, SEVERITIES, Complaint, ComplaintEvent
from bot.contact.vault import sealed_number
from bot.privacy import mask_personal_numbers
from bot.references import insert_once
from bot.service_hours import SHANGHAI
from bot.working_calendar import complaint_deadlines

OPEN_STATES = ("received", "acknowledged", "investigating")


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


class ComplaintDesk:
    def __init__(self, sessions: sessionmaker):
        self.sessions = sessions

    def file(self, draft: ComplaintDraft, received_at: datetime) -> Complaint:
        """The complaint for ``draft.source_key``, registered now if it is not yet."""
        if draft.category not in CATEGORIES or draft.severity not in SEVERITIES:
            raise ValueError(f"unknown category {draft.category!r} or severity {draft.severity!r}")
        received_at = received_at.astimezone(SHANGHAI)
        deadlines = complaint_deadlines(received_at, draft.severity)
        contact = mask_personal_numbers(draft.contact) if draft.contact else None
        with self.sessions() as session:
            contact_ref = sealed_number(session, draft.conversation_id, contact)

        def make(reference: str) -> Complaint:
            return Complaint(
                reference=reference,
                source_key=draft.source_key,
                conversation_id=draft.conversation_id,
                customer_id=draft.customer_id,
                channel=draft.channel,
                language=draft.language,
                category=draft.category,
                severity=draft.severity,
                urgent=draft.urgent,
                product=draft.product,
                description=mask_personal_numbers(draft.description),
                desired_outcome=mask_personal_numbers(draft.desired_outcome) if draft.desired_outcome else None,
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
            session.add(ComplaintEvent(
                complaint_id=complaint.id, at=received_at, actor="assistant", kind="received",
                detail={"category": draft.category, "severity": draft.severity, "urgent": draft.urgent,
                        "channel": draft.channel},
            ))

        return insert_once(self.sessions, Complaint, "C", received_at, draft.source_key, make, record_receipt)

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
