"""Closing time: at the end of the agents' day nobody waits silently overnight
(docs/architecture.md, "Honest waiting").

Each live-chat handoff still waiting live becomes a callback request for the first window of the
next agent day when a mobile number of the customer is known, else a message left for the agents;
a message left earlier stays for the morning. Either way the assistant answers the customer again
and they are told, in the same transaction as the change. The contact service runs the sweep
every few seconds; several processes may run it at once, and each handoff changes once
(conditional UPDATEs, and the callback's unique source key).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Collection, List, Optional

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot import knowledge, service_hours
from bot.bookings.models import Callback
from bot.bookings.schedule import next_callback_windows
from bot.bookings.store import known_mobile
from bot.core.models import Conversation, Customer, Message
from bot.handoff.desk import moved
from bot.handoff.models import Handoff
from bot.language import format_moment, format_window
from bot.references import new_reference

REFERENCE_ATTEMPTS = 5
NAME_NOT_GIVEN = "(name not given)"  # a callback's name for a customer who never gave one (staff read it)


@dataclass(frozen=True)
class Closed:
    """A handoff the sweep changed, and what its customer was told (stored, to be delivered)."""

    handoff_id: int
    conversation_id: str
    notice: Message
    callback_reference: Optional[str] = None


class ClosingSweep:
    def __init__(self, sessions: sessionmaker):
        self.sessions = sessions

    def run(self, now: datetime, channels: Collection[str]) -> List[Closed]:
        """Close the day for the live-chat ``channels``' waiting handoffs (call it out of hours);
        the ones this call changed."""
        with self.sessions() as session:
            query = (select(Handoff.id).join(Conversation, Conversation.id == Handoff.conversation_id)
                     .where(Handoff.state == "waiting", Handoff.channel.in_(list(channels)),
                            or_(Handoff.left_message_at.is_(None), Conversation.owner == "queued"))
                     .order_by(Handoff.id))
            candidates = session.execute(query).scalars().all()
        closed = [self.close(handoff_id, now) for handoff_id in candidates]
        return [c for c in closed if c is not None]

    def close(self, handoff_id: int, now: datetime) -> Optional[Closed]:
        """One waiting handoff at closing time; None if another process did it first."""
        with self.sessions() as session:
            handoff = session.get(Handoff, handoff_id)
            number = known_mobile(session, handoff.conversation_id, handoff.customer_id)
        if handoff.left_message_at is None and number is not None:
            return self._callback(handoff, number.id, number.masked, now)
        with self.sessions() as session:
            if handoff.left_message_at is None:
                if not moved(session, handoff.id, Handoff.left_message_at.is_(None), left_message_at=now):
                    return None
            if not _back_to_assistant(session, handoff.conversation_id):
                session.rollback()
                return None
            notice = _notice(session, handoff, "closing_left_message",
                             reopen=format_moment(service_hours.agents_back_at(now), handoff.language))
            session.commit()
            return Closed(handoff.id, handoff.conversation_id, notice)

    def _callback(self, handoff: Handoff, mobile_ref: int, masked: str, now: datetime) -> Optional[Closed]:
        """The wait becomes a callback request for the next agent day's first window. The
        handoff's row is written first (its lock, or SQLite's, is taken before anything is read)."""
        window_start, window_end = next_callback_windows(now, 1)[0]
        for _attempt in range(REFERENCE_ATTEMPTS):
            reference = new_reference("CB", now)
            with self.sessions() as session:
                if not moved(session, handoff.id, Handoff.left_message_at.is_(None), state="withdrawn", resolved_at=now,
                             callback_reference=reference) or not _back_to_assistant(session, handoff.conversation_id):
                    session.rollback()
                    return None
                customer = session.get(Customer, handoff.customer_id) if handoff.customer_id else None
                session.add(Callback(
                    reference=reference, source_key=f"closing:{handoff.id}", conversation_id=handoff.conversation_id,
                    customer_id=handoff.customer_id, channel=handoff.channel, language=handoff.language,
                    name=customer.name if customer else NAME_NOT_GIVEN, mobile=masked, mobile_ref=mobile_ref,
                    window_start=window_start, window_end=window_end, topic=handoff.summary, state="requested",
                    created_at=now))
                notice = _notice(session, handoff, "closing_callback", reference=reference, mobile=masked,
                                 window=format_window(window_start, window_end, handoff.language))
                try:
                    session.commit()
                except IntegrityError:  # the random reference was taken: another one
                    session.rollback()
                    continue
                return Closed(handoff.id, handoff.conversation_id, notice, reference)
        raise RuntimeError(f"no free CB reference after {REFERENCE_ATTEMPTS} attempts")


def _back_to_assistant(session: Session, conversation_id: str) -> bool:
    """The assistant answers the conversation again, if the agents' queue still had it."""
    done = session.execute(update(Conversation).where(Conversation.id == conversation_id, Conversation.owner == "queued")
                           .values(owner="bot").execution_options(synchronize_session=False))
    return done.rowcount == 1


def _notice(session: Session, handoff: Handoff, key: str, **values) -> Message:
    _, closes = service_hours.agent_hours()
    text = knowledge.message(key, handoff.language, closed=f"{closes:%H:%M}", **values)
    notice = Message(conversation_id=handoff.conversation_id, direction="out", sender="system", text=text, status="sent")
    session.add(notice)
    session.flush()
    return notice
