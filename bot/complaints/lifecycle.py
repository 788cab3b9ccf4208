"""Staff changes to complaints (manual 5.2.1–5.2.4): the one implementation behind the staff API
(and, later, the agent console).

Each change is committed in one transaction with the ``ComplaintEvent`` that records it (actor
``staff:<id>``) and, when the customer is to be told, the outbound message in their conversation;
nothing is ever deleted. Stored messages are handed to the ``notify`` callback after the commit,
so the app can push them live without this module knowing about Sanic.

Who may do what: agents acknowledge, investigate, resolve, close, reopen, write notes and take
unassigned complaints; only supervisors change severity or the urgent flag, assign complaints to
someone else, or extend the regulatory deadline.

Concurrency: a change first writes the complaint row and only then reads it. The write takes the
row lock on PostgreSQL and the database's write lock on SQLite, so two people acting at once are
served one after the other and the second sees the first's change (a second "close" gets a
``Conflict``), without a version number in the API.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Optional

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bot import knowledge, service_hours
from bot.complaints.desk import OPEN_STATES
from bot.complaints.models import SEVERITIES, STATES, Complaint, ComplaintEvent
from bot.core.errors import Conflict, Forbidden, InvalidChange, NotFound
from bot.core.models import Conversation, Message
from bot.core.staff import Staff, find_active
from bot.core.time import iso
from bot.language import format_moment
from bot.privacy import mask_sensitive
from bot.working_calendar import MAX_REGULATORY_EXTENSION_DAYS, complaint_deadlines

log = logging.getLogger(__name__)

# Allowed moves. received → investigating skips the acknowledgement step (the customer is then
# sent the acknowledgement all the same); resolved → investigating reopens, with a reason.
NEXT_STATES: Dict[str, tuple] = {
    "received": ("acknowledged", "investigating"),
    "acknowledged": ("investigating",),
    "investigating": ("resolved",),
    "resolved": ("closed", "investigating"),
    "closed": (),
}
MAX_TEXT = 2000


class ComplaintNotFound(NotFound):
    """No complaint with that reference."""


class NotAllowed(Forbidden):
    """The staff member's role may not make this change."""


def locked(session: Session, now: datetime, *where) -> Optional[Complaint]:
    """The complaint matching ``where``, read after touching its ``updated_at`` (see above)."""
    touched = session.execute(
        update(Complaint).where(*where).values(updated_at=now).execution_options(synchronize_session=False)
    )
    if touched.rowcount == 0:
        return None
    return session.execute(select(Complaint).where(*where)).scalar_one()


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidChange(f"{what} is required (a non-empty string).")
    if len(value) > MAX_TEXT:
        raise InvalidChange(f"{what} is limited to {MAX_TEXT} characters.")
    return mask_sensitive(value.strip())


def _require_supervisor(staff: Staff, what: str) -> None:
    if not staff.is_supervisor:
        raise NotAllowed(f"Only supervisors may {what}.")


def _require_open(complaint: Complaint, what: str) -> None:
    if complaint.state not in OPEN_STATES:
        raise Conflict(f"{complaint.reference} is {complaint.state}; {what} is only possible while it is open.")


@dataclass
class _Change:
    """What one change does: the events to record and the customer messages it stores."""

    session: Session
    complaint: Complaint
    now: datetime
    events: List[tuple] = field(default_factory=list)
    told: List[Message] = field(default_factory=list)

    def record(self, kind: str, **detail: Any) -> None:
        self.events.append((kind, detail))

    def tell_customer(self, key: str, **values: Any) -> Optional[int]:
        """Store a message from ``complaint_updates.yml`` in the complaint's conversation."""
        complaint = self.complaint
        if not complaint.conversation_id or self.session.get(Conversation, complaint.conversation_id) is None:
            return None
        templates = knowledge.load("complaint_updates")[key]
        text = templates.get(complaint.language, templates["zh"]).format(reference=complaint.reference, **values)
        message = Message(
            conversation_id=complaint.conversation_id, direction="out", sender="agent", text=text,
            status="sent", created_at=self.now.astimezone(timezone.utc),
        )
        self.session.add(message)
        self.session.flush()
        self.told.append(message)
        return message.id


class ComplaintLifecycle:
    def __init__(
        self,
        sessions: sessionmaker,
        notify: Callable[[Message], None] = lambda message: None,
        clock: Callable[[], datetime] = service_hours.now,
    ):
        self.sessions = sessions
        self.notify = notify
        self.clock = clock

    def _change(self, reference: str, staff: Staff, apply: Callable[[_Change], None]) -> Complaint:
        reference = str(reference).strip().upper()
        now = self.clock().astimezone(service_hours.SHANGHAI)
        with self.sessions() as session:
            complaint = locked(session, now, Complaint.reference == reference)
            if complaint is None:
                raise ComplaintNotFound(f"No complaint {reference}.")
            change = _Change(session, complaint, now)
            apply(change)
            if not change.events:  # already as asked: nothing to record
                session.rollback()
                return session.execute(select(Complaint).where(Complaint.reference == reference)).scalar_one()
            for kind, detail in change.events:
                session.add(ComplaintEvent(
                    complaint_id=complaint.id, at=now, actor=f"staff:{staff.id}", kind=kind, detail=detail,
                ))
            session.commit()
        for message in change.told:
            try:
                self.notify(message)
            except Exception:  # stored all the same: the customer sees it on the next fetch
                log.exception("pushing the update on %s to the customer failed", reference)
        return complaint

    def transition(self, reference: str, staff: Staff, to: Any, resolution: Any = None, reason: Any = None) -> Complaint:
        if to not in STATES:
            raise InvalidChange(f"to must be one of {', '.join(STATES)}.")

        def apply(change: _Change) -> None:
            complaint, now = change.complaint, change.now
            if to not in NEXT_STATES[complaint.state]:
                allowed = ", ".join(NEXT_STATES[complaint.state]) or "nothing (it is archived)"
                raise Conflict(f"{complaint.reference} is {complaint.state}; it can move to {allowed}, not {to}.")
            detail: Dict[str, Any] = {"from": complaint.state, "to": to}
            reopening = complaint.state == "resolved" and to == "investigating"
            if reason or reopening:
                detail["reason"] = _text(reason, "reason")
            if to == "resolved":
                complaint.resolution = detail["resolution"] = _text(resolution, "resolution")
                complaint.resolved_at = now
                detail["customer_message_id"] = change.tell_customer("resolved", resolution=complaint.resolution)
            elif to == "closed":
                complaint.closed_at = now
            elif reopening:  # the earlier resolution stays in its "resolved" event
                complaint.resolution = complaint.resolved_at = None
            elif complaint.state == "received":  # acknowledged, or investigating straight away
                due = format_moment(complaint.resolution_due, complaint.language)
                detail["customer_message_id"] = change.tell_customer("acknowledged", resolution_due=due)
            if to in ("acknowledged", "resolved") or (to == "investigating" and complaint.state == "received"):
                # The first reply: told in the conversation, or by staff through the contact the
                # customer gave when the complaint has no conversation.
                complaint.first_replied_at = complaint.first_replied_at or now
            complaint.state = to
            change.record("reopened" if reopening else to, **detail)

        return self._change(reference, staff, apply)

    def set_severity(self, reference: str, staff: Staff, severity: Any) -> Complaint:
        """general ↔ complex; the resolution deadline is counted again from receipt.

        A deadline already recorded as missed stays in ``overdue``: reclassifying a complaint
        must not hide that it was late.
        """
        _require_supervisor(staff, "change a complaint's severity")
        if severity not in SEVERITIES:
            raise InvalidChange(f"severity must be one of {', '.join(SEVERITIES)}.")

        def apply(change: _Change) -> None:
            complaint = change.complaint
            _require_open(complaint, "changing the severity")
            if complaint.severity == severity:
                return
            due = complaint_deadlines(complaint.received_at, severity, complaint.regulatory_extension_days).resolution
            change.record(
                "severity_changed", **{"from": complaint.severity, "to": severity},
                resolution_due_from=iso(complaint.resolution_due), resolution_due_to=iso(due),
            )
            complaint.severity, complaint.resolution_due = severity, due

        return self._change(reference, staff, apply)

    def set_urgent(self, reference: str, staff: Staff, urgent: Any) -> Complaint:
        _require_supervisor(staff, "change the urgent flag")
        if not isinstance(urgent, bool):
            raise InvalidChange("urgent must be true or false.")

        def apply(change: _Change) -> None:
            complaint = change.complaint
            _require_open(complaint, "changing the urgent flag")
            if complaint.urgent != urgent:
                change.record("urgent_changed", **{"from": complaint.urgent, "to": urgent})
                complaint.urgent = urgent

        return self._change(reference, staff, apply)

    def assign(self, reference: str, staff: Staff, assignee: Any) -> Complaint:
        """Supervisors assign to any active staff member; agents take unassigned complaints."""
        if not isinstance(assignee, str) or not assignee:
            raise InvalidChange("assignee is required (a staff id).")
        if assignee != staff.id:
            _require_supervisor(staff, "assign a complaint to someone else")

        def apply(change: _Change) -> None:
            complaint = change.complaint
            if complaint.state == "closed":
                raise Conflict(f"{complaint.reference} is closed (archived).")
            if find_active(change.session, assignee) is None:
                raise InvalidChange(f"No active staff member {assignee!r}.")
            if complaint.assignee == assignee:
                return
            if complaint.assignee and not staff.is_supervisor:
                raise NotAllowed("This complaint is assigned to someone else; a supervisor can reassign it.")
            change.record("assigned", **{"from": complaint.assignee, "to": assignee})
            complaint.assignee = assignee

        return self._change(reference, staff, apply)

    def extend(self, reference: str, staff: Staff, days: Any, reason: Any) -> Complaint:
        """Extend the regulatory deadline, once, by 1–15 days, with a recorded reason."""
        _require_supervisor(staff, "extend the regulatory deadline")
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_REGULATORY_EXTENSION_DAYS:
            raise InvalidChange(f"days must be a whole number from 1 to {MAX_REGULATORY_EXTENSION_DAYS}.")
        reason = _text(reason, "reason")

        def apply(change: _Change) -> None:
            complaint = change.complaint
            _require_open(complaint, "extending the regulatory deadline")
            if complaint.regulatory_extension_days:
                raise Conflict(f"The regulatory deadline of {complaint.reference} has already been extended.")
            due = complaint_deadlines(complaint.received_at, complaint.severity, days).regulatory
            change.record(
                "extended", days=days, reason=reason,
                regulatory_due_from=iso(complaint.regulatory_due), regulatory_due_to=iso(due),
            )
            complaint.regulatory_extension_days, complaint.regulatory_due = days, due

        return self._change(reference, staff, apply)

    def add_note(self, reference: str, staff: Staff, text: Any) -> Complaint:
        """An internal note (never shown to the customer); allowed in every state."""
        text = _text(text, "text")
        return self._change(reference, staff, lambda change: change.record("note", text=text))
