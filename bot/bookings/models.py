"""Callback and advisor-appointment tables (migration 0003)."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, String, Text
from sqlalchemy.orm import declared_attr

from bot.core.time import ShanghaiTime
from bot.core.models import Base


class _Booking:
    """Columns both kinds of booking have."""

    id = Column(Integer, primary_key=True, autoincrement=True)
    # Makes booking idempotent: the same key (conversation and confirming message) → the same booking.
    source_key = Column(String(160), nullable=False, unique=True)
    conversation_id = Column(String(80), index=True)
    customer_id = Column(String(64), index=True)
    channel = Column(String(16), nullable=False)
    language = Column(String(2), nullable=False)
    name = Column(String(200), nullable=False)
    mobile = Column(String(20), nullable=False)  # masked: 138****5678

    @declared_attr
    def mobile_ref(cls):  # the sealed number, for staff (a mixin's foreign key must be declared so)
        return Column(Integer, ForeignKey("personal_numbers.id"))

    topic = Column(Text)  # personal numbers masked
    state = Column(String(16), nullable=False, default="requested")
    created_at = Column(ShanghaiTime, nullable=False)


class Callback(_Booking, Base):
    """An agent calls the customer back within a 30-minute window.

    state: requested → done | cancelled.
    """

    __tablename__ = "callbacks"
    reference = Column(String(20), nullable=False, unique=True)  # CB20261129-483928 (bot/references.py)
    window_start = Column(ShanghaiTime, nullable=False)
    window_end = Column(ShanghaiTime, nullable=False)


class Appointment(_Booking, Base):
    """A one-hour meeting with an advisor at a branch.

    state: requested → confirmed → done, or cancelled.
    """

    __tablename__ = "appointments"
    reference = Column(String(20), nullable=False, unique=True)  # AP20261129-483928
    city = Column(String(32), nullable=False)  # English city name, as in the branches knowledge
    starts_at = Column(ShanghaiTime, nullable=False)
    ends_at = Column(ShanghaiTime, nullable=False)
