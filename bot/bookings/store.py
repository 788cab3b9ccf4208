"""Booking callbacks and advisor appointments: checked, idempotent, with daily references."""

from __future__ import annotations

from datetime import datetime
from typing import List, Optional, Type, TypeVar

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from bot.bookings.models import Appointment, Callback
from bot.bookings.schedule import ScheduleError, appointment_slot, callback_window, parse_mobile
from bot.branches import find_branch
from bot.core.models import Conversation
from bot.core.vault import PersonalNumber, sealed_number
from bot.privacy import mask_sensitive
from bot.references import insert_once

Booking = TypeVar("Booking", Callback, Appointment)


class BookingStore:
    def __init__(self, sessions: sessionmaker):
        self.sessions = sessions

    def book_callback(
        self, source_key: str, conversation_id: Optional[str], customer_id: Optional[str], channel: str,
        language: str, name: str, mobile: str, window_start: datetime, window_end: datetime,
        topic: Optional[str], now: datetime,
    ) -> Callback:
        """The callback booked under ``source_key``: the one booked before, or a new one.

        ``(window_start, window_end)`` must be a window ``callback_window`` gives, else
        ScheduleError("invalid_window"); its own errors ("past", ...) pass through.
        """
        existing = self._by_source_key(Callback, source_key)
        if existing:
            return existing
        if callback_window(window_start, now) != (window_start, window_end):
            raise ScheduleError("invalid_window")
        return self._book(
            Callback, "CB", source_key, now, conversation_id=conversation_id, customer_id=customer_id,
            channel=channel, language=language, name=name.strip(), mobile=_masked_mobile(mobile),
            window_start=window_start, window_end=window_end, topic=_masked(topic),
        )

    def book_appointment(
        self, source_key: str, conversation_id: Optional[str], customer_id: Optional[str], channel: str,
        language: str, city: str, name: str, mobile: str, starts_at: datetime, ends_at: datetime,
        topic: Optional[str], now: datetime,
    ) -> Appointment:
        """The appointment booked under ``source_key``: the one booked before, or a new one.

        ``city`` is a branch city (any alias; stored by its English name), else
        ScheduleError("unknown_city"); the slot must be one ``appointment_slot`` gives, else
        ScheduleError("invalid_window").
        """
        existing = self._by_source_key(Appointment, source_key)
        if existing:
            return existing
        branch = find_branch(city)
        if branch is None:
            raise ScheduleError("unknown_city")
        if appointment_slot(starts_at, now) != (starts_at, ends_at):
            raise ScheduleError("invalid_window")
        return self._book(
            Appointment, "AP", source_key, now, conversation_id=conversation_id, customer_id=customer_id,
            channel=channel, language=language, city=branch["city"], name=name.strip(),
            mobile=_masked_mobile(mobile), starts_at=starts_at, ends_at=ends_at, topic=_masked(topic),
        )

    def list_callbacks(self, state: Optional[str] = None) -> List[Callback]:
        """For the staff list: by window, earliest first."""
        return self._list(Callback, state, Callback.window_start)

    def list_appointments(self, state: Optional[str] = None) -> List[Appointment]:
        """For the staff list: by start time, earliest first."""
        return self._list(Appointment, state, Appointment.starts_at)

    def _by_source_key(self, model: Type[Booking], source_key: str) -> Optional[Booking]:
        with self.sessions() as session:
            return session.execute(select(model).filter_by(source_key=source_key)).scalar_one_or_none()

    def _book(self, model: Type[Booking], prefix: str, source_key: str, now: datetime, **fields) -> Booking:
        with self.sessions() as session:
            mobile_ref = sealed_number(session, fields["conversation_id"], fields["mobile"])
        return insert_once(
            self.sessions, model, prefix, now, source_key,
            lambda reference: model(reference=reference, source_key=source_key, state="requested", created_at=now,
                                    mobile_ref=mobile_ref, **fields),
        )

    def _list(self, model: Type[Booking], state: Optional[str], by) -> List[Booking]:
        query = select(model).order_by(by, model.id)
        if state is not None:
            query = query.where(model.state == state)
        with self.sessions() as session:
            return list(session.execute(query).scalars())


def known_mobile(session: Session, conversation_id: str, customer_id: Optional[str]) -> Optional[PersonalNumber]:
    """The mobile number the customer gave last (sealed): in this conversation, or, for a
    verified customer, in any of theirs. (The CRM export carries no phone number.)"""
    where = [PersonalNumber.conversation_id == conversation_id]
    if customer_id:
        theirs = select(Conversation.id).where(Conversation.customer_id == customer_id)
        where = [or_(where[0], PersonalNumber.conversation_id.in_(theirs))]
    query = select(PersonalNumber).where(PersonalNumber.kind == "mobile", *where).order_by(PersonalNumber.id.desc()).limit(1)
    return session.execute(query).scalar_one_or_none()


def _masked_mobile(mobile: str) -> str:
    """Personal numbers are stored masked (spec); a number already masked stays as it is."""
    number = parse_mobile(mobile)
    if number is None:
        raise ScheduleError("invalid_mobile")
    return mask_sensitive(number)


def _masked(text: Optional[str]) -> Optional[str]:
    return mask_sensitive(text) if text else None
