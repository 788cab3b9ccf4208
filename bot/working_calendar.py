"""Mainland China working days and complaint deadlines, all in Asia/Shanghai.

Working days follow the State Council's holiday arrangement through ``chinese_calendar``:
public holidays are off, adjusted working weekend days are on. Entries in ``OVERRIDES``
(``bot/knowledge/calendar.yml``) take precedence for any year. For a year the pinned
``chinese_calendar`` release has no data for, and without an override entry, Monday–Friday
count as working days and a warning is logged once per year. That fallback almost always
errs on the safe side: it misses the year's holidays, so a deadline comes out earlier than
the official count, never later because of them. It also misses adjusted working weekend
days, so a count spanning such a day but not the holiday it makes up for ends a day late;
adding the year's announcement to the override file is the fix.

A complaint's working-day count starts on the day it is received if that is a working day
and it arrives before the office closes at 17:00, otherwise on the next working day.
Deadlines fall at the end (23:59:59) of their day.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import FrozenSet, Set, Tuple

import chinese_calendar
import yaml

from bot.knowledge import KNOWLEDGE_DIR
from bot.service_hours import SHANGHAI

log = logging.getLogger(__name__)

OVERRIDES: Path = KNOWLEDGE_DIR / "calendar.yml"
OFFICE_CLOSES = time(17, 0)
END_OF_DAY = time(23, 59, 59)
FIRST_REPLY_WITHIN = timedelta(hours=24)
RESOLUTION_WORKING_DAYS = {"general": 5, "complex": 10}
REGULATORY_DAYS = 15
MAX_REGULATORY_EXTENSION_DAYS = 15

_warned_years: Set[int] = set()


@lru_cache(maxsize=4)
def _load_overrides(path: Path, mtime_ns: int) -> Tuple[FrozenSet[date], FrozenSet[date]]:
    with path.open(encoding="utf-8") as handle:
        content = yaml.safe_load(handle) or {}

    def days(key: str) -> FrozenSet[date]:
        # Unquoted YYYY-MM-DD loads as a date, quoted as a string: accept both.
        return frozenset(date.fromisoformat(str(day)) for day in content.get(key) or [])

    holidays, workdays = days("holidays"), days("workdays")
    if holidays & workdays:
        raise ValueError(f"{path}: listed as both holiday and workday: {sorted(holidays & workdays)}")
    return holidays, workdays


def _overrides() -> Tuple[FrozenSet[date], FrozenSet[date]]:
    """(holidays, workdays) from the override file, re-read when its mtime changes."""
    return _load_overrides(OVERRIDES, OVERRIDES.stat().st_mtime_ns)


def is_working_day(day: date) -> bool:
    holidays, workdays = _overrides()
    if day in holidays:
        return False
    if day in workdays:
        return True
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        if day.year not in _warned_years:
            _warned_years.add(day.year)
            log.warning(
                "chinese_calendar has no holiday data for %s; counting Monday–Friday as working "
                "days. Add the State Council's arrangement for %s to %s.",
                day.year, day.year, OVERRIDES,
            )
        return day.weekday() < 5


def next_working_day(day: date) -> date:
    """The first working day strictly after ``day``."""
    day += timedelta(days=1)
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def add_working_days(day: date, n: int) -> date:
    """The ``n``-th working day strictly after ``day`` (``day`` itself for n=0)."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    for _ in range(n):
        day = next_working_day(day)
    return day


def _in_shanghai(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: a timezone is required")
    return moment.astimezone(SHANGHAI)


def counting_day(received: datetime) -> date:
    """The day a complaint's working-day count starts from (see the module docstring)."""
    local = _in_shanghai(received)
    if is_working_day(local.date()) and local.time() < OFFICE_CLOSES:
        return local.date()
    return next_working_day(local.date())


@dataclass(frozen=True)
class ComplaintDeadlines:
    first_reply: datetime  # received + 24 hours: agents answer every day, 09:00–21:00
    resolution: datetime  # end of the 5th/10th working day after the counting day
    regulatory: datetime  # end of the 15th calendar day after receipt, plus any extension


def complaint_deadlines(
    received: datetime, severity: str, regulatory_extension_days: int = 0
) -> ComplaintDeadlines:
    """Deadlines for a complaint received at ``received`` (timezone-aware), in Asia/Shanghai.

    ``severity`` is "general" (5 working days) or "complex" (10). The regulatory decision is
    due within 15 days of receipt, extendable by up to 15 days with a recorded reason.
    """
    local = _in_shanghai(received)
    if severity not in RESOLUTION_WORKING_DAYS:
        raise ValueError(f"unknown severity {severity!r}; expected one of {sorted(RESOLUTION_WORKING_DAYS)}")
    if not 0 <= regulatory_extension_days <= MAX_REGULATORY_EXTENSION_DAYS:
        raise ValueError(
            f"regulatory_extension_days must be 0..{MAX_REGULATORY_EXTENSION_DAYS}, "
            f"got {regulatory_extension_days}"
        )
    resolution_day = add_working_days(counting_day(local), RESOLUTION_WORKING_DAYS[severity])
    regulatory_day = local.date() + timedelta(days=REGULATORY_DAYS + regulatory_extension_days)
    return ComplaintDeadlines(
        # Elapsed time, computed in UTC so it stays exact whatever the zone's rules.
        first_reply=(local.astimezone(timezone.utc) + FIRST_REPLY_WITHIN).astimezone(SHANGHAI),
        resolution=datetime.combine(resolution_day, END_OF_DAY, tzinfo=SHANGHAI),
        regulatory=datetime.combine(regulatory_day, END_OF_DAY, tzinfo=SHANGHAI),
    )
