"""Times as this service keeps them: absolute moments, shown and stored as Asia/Shanghai."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional

from sqlalchemy.types import DateTime, TypeDecorator

from bot.service_hours import SHANGHAI


class ShanghaiTime(TypeDecorator):
    """An absolute moment, always given back as an aware Asia/Shanghai datetime.

    PostgreSQL keeps it as ``timestamptz``; SQLite keeps the Shanghai wall-clock time (China has
    no daylight saving, so the offset is always +08:00 and order and comparisons hold).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: times must be timezone-aware")
        value = value.astimezone(SHANGHAI)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=SHANGHAI) if value.tzinfo is None else value.astimezone(SHANGHAI)


def as_aware(moment: datetime) -> datetime:
    """A time read from a DateTime(timezone=True) column: SQLite gives back naive datetimes,
    stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def iso(moment: Optional[datetime]) -> Optional[str]:
    """An aware moment as ISO 8601 in Beijing time, to the second (``None`` stays ``None``)."""
    return moment.astimezone(SHANGHAI).isoformat(timespec="seconds") if moment else None
