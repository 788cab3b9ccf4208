"""Human agents' hours (spec: 09:00–21:00 Beijing time, every day; ``AGENT_HOURS`` changes them)
and the clock every deadline and agent hour is read from."""

from __future__ import annotations

import json
import os
from datetime import datetime, time, timedelta
from time import time as unix_time
from typing import Optional, Tuple
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_AGENT_HOURS = "09:00-21:00"


def agent_hours() -> Tuple[time, time]:
    """(opening, closing) of the agents' day, every day: ``AGENT_HOURS`` ("09:00-21:00", Beijing
    time; the opening before the closing), read by the contact service and the action server."""
    text = os.environ.get("AGENT_HOURS") or DEFAULT_AGENT_HOURS
    try:
        opens, closes = (time.fromisoformat(part.strip()) for part in text.split("-"))
    except ValueError:
        raise ValueError(f"AGENT_HOURS must look like 09:00-21:00, not {text!r}") from None
    if not opens < closes:
        raise ValueError(f"AGENT_HOURS: the opening must come before the closing ({text!r})")
    return opens, closes


def now() -> datetime:
    """The current time in Beijing. For tests and demos, ``EVERGREEN_CLOCK`` (an ISO time) freezes
    it, and ``EVERGREEN_CLOCK_FILE`` names a file ``{"at": ISO time, "since": Unix time or null}``
    that sets it while the system runs: stopped at ``at``, or running from ``at`` since ``since``
    (every process reading the file agrees, and a test may rewrite it to move the clock)."""
    path = os.environ.get("EVERGREEN_CLOCK_FILE")
    if path:
        with open(path, encoding="utf-8") as handle:
            setting = json.load(handle)
        at = datetime.fromisoformat(setting["at"]).astimezone(SHANGHAI)
        since = setting.get("since")
        return at + timedelta(seconds=unix_time() - since) if since is not None else at
    frozen = os.environ.get("EVERGREEN_CLOCK")
    return datetime.fromisoformat(frozen).astimezone(SHANGHAI) if frozen else datetime.now(SHANGHAI)


def agents_available(at: Optional[datetime] = None) -> bool:
    opens, closes = agent_hours()
    local = (at or now()).astimezone(SHANGHAI)
    return opens <= local.time() < closes


def agents_back_at(at: Optional[datetime] = None) -> datetime:
    """When agents are next available, as an aware Asia/Shanghai datetime."""
    opens, _ = agent_hours()
    local = (at or now()).astimezone(SHANGHAI)
    if agents_available(local):
        return local
    day = local.date() if local.time() < opens else local.date() + timedelta(days=1)
    return datetime.combine(day, opens, tzinfo=SHANGHAI)

