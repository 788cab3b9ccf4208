"""Escalating complaints past a deadline (manual 5.2: "any step past its deadline is overdue and
escalated").

Each missed deadline is escalated once: it is added to ``Complaint.overdue`` together with an
``escalated`` event whose ``dedupe_key`` is ``overdue:<deadline>``. The complaint row is locked
first (see ``lifecycle.locked``) and the unique (complaint, dedupe_key) constraint backs that
up, so repeated runs, a restart, or two service processes running the job at once still give
one escalation per deadline. A recorded miss is never removed, even if the deadline later moves.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Callable, List, Tuple

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from bot import service_hours
from bot.complaints.desk import OPEN_STATES
from bot.complaints.lifecycle import locked
from bot.core.time import iso
from bot.complaints.models import Complaint, ComplaintEvent

log = logging.getLogger(__name__)
DEADLINES = ("first_reply", "resolution", "regulatory")


def missed_deadlines(complaint: Complaint, now: datetime) -> List[str]:
    """The deadlines an open complaint has passed without the step being done, in order."""
    if complaint.state not in OPEN_STATES:
        return []
    missed = []
    if complaint.first_replied_at is None and complaint.first_reply_due < now:
        missed.append("first_reply")
    if complaint.resolution_due < now:
        missed.append("resolution")
    if complaint.regulatory_due < now:
        missed.append("regulatory")
    return missed


def _escalate(sessions: sessionmaker, complaint_id: int, now: datetime) -> List[Tuple[str, str]]:
    """Record the newly missed deadlines of one complaint; [(reference, deadline)]."""
    with sessions() as session:
        complaint = locked(session, now, Complaint.id == complaint_id)
        new = [kind for kind in missed_deadlines(complaint, now) if kind not in complaint.overdue]
        if not new:  # another run got there first
            session.rollback()
            return []
        for kind in new:
            session.add(ComplaintEvent(
                complaint_id=complaint.id, at=now, actor="system", kind="escalated",
                detail={"deadline": kind, "due": iso(getattr(complaint, f"{kind}_due"))},
                dedupe_key=f"overdue:{kind}",
            ))
        complaint.overdue = [kind for kind in DEADLINES if kind in complaint.overdue or kind in new]
        try:
            session.commit()
        except IntegrityError:  # escalated meanwhile by a process that did not lock (belt and braces)
            session.rollback()
            return []
        return [(complaint.reference, kind) for kind in new]


def mark_overdue(sessions: sessionmaker, now: datetime) -> List[Tuple[str, str]]:
    """Escalate every open complaint past a deadline not escalated yet; [(reference, deadline)]."""
    with sessions() as session:
        candidates = session.execute(
            select(Complaint).where(
                Complaint.state.in_(OPEN_STATES),
                or_(
                    (Complaint.first_replied_at.is_(None)) & (Complaint.first_reply_due < now),
                    Complaint.resolution_due < now,
                    Complaint.regulatory_due < now,
                ),
            ).order_by(Complaint.id)
        ).scalars().all()
    escalated: List[Tuple[str, str]] = []
    for complaint in candidates:
        if set(missed_deadlines(complaint, now)) - set(complaint.overdue):
            escalated += _escalate(sessions, complaint.id, now)
    return escalated


async def watch(sessions: sessionmaker, interval: float, clock: Callable[[], datetime] = service_hours.now) -> None:
    """Run :func:`mark_overdue` every ``interval`` seconds (the contact service's background task)."""
    while True:
        try:
            for reference, deadline in await asyncio.to_thread(mark_overdue, sessions, clock()):
                log.warning("complaint %s missed its %s deadline: escalated", reference, deadline)
        except Exception:
            log.exception("marking overdue complaints failed")
        await asyncio.sleep(interval)
