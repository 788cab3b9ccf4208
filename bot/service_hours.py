"""Human agents' hours (spec: 09:00–21:00 Beijing time, every day)."""

from __future__ import annotations

import os
from datetime import datetime, time, timedelta
from typing import Optional
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
AGENTS_OPEN = time(9, 0)
AGENTS_CLOSE = time(21, 0)


def now() -> datetime:
    """The current time in Beijing. ``EVERGREEN_CLOCK`` (an ISO time) freezes it, for tests and
    demos of what happens in or out of agent hours."""
    frozen = os.environ.get("EVERGREEN_CLOCK")
    return datetime.fromisoformat(frozen).astimezone(SHANGHAI) if frozen else datetime.now(SHANGHAI)


def agents_available(at: Optional[datetime] = None) -> bool:
    local = (at or now()).astimezone(SHANGHAI)
    return AGENTS_OPEN <= local.time() < AGENTS_CLOSE


def agents_back_at(at: Optional[datetime] = None) -> datetime:
    """When agents are next available, as an aware Asia/Shanghai datetime."""
    local = (at or now()).astimezone(SHANGHAI)
    if agents_available(local):
        return local
    day = local.date() if local.time() < AGENTS_OPEN else local.date() + timedelta(days=1)
    return datetime.combine(day, AGENTS_OPEN, tzinfo=SHANGHAI)
