"""Daily references (``C20261128-0007``, ``CB…``, ``AP…``) and idempotent inserts.

Complaints and bookings are filed at most once per ``source_key`` (the conversation and the
customer message that asked for them), and numbered per Asia/Shanghai day. Two requests may
pick the same next number at the same moment; the unique constraints catch that, and the loser
backs off for a random, growing while and looks again.
"""

from __future__ import annotations

import random
import time
from datetime import datetime
from typing import Callable, Optional, TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.service_hours import SHANGHAI

Row = TypeVar("Row")
MAX_ATTEMPTS = 30
BACKOFF = 0.005  # seconds, doubled per attempt up to 64 times this


def insert_once(
    sessions: sessionmaker,
    model,
    prefix: str,
    moment: datetime,
    source_key: str,
    make: Callable[[str], Row],
    after_insert: Optional[Callable[[Session, Row], None]] = None,
) -> Row:
    """The row of ``model`` filed under ``source_key``: the existing one, or ``make(reference)``
    inserted with the day's next reference (``after_insert`` adds rows in the same transaction)."""
    day_prefix = f"{prefix}{moment.astimezone(SHANGHAI):%Y%m%d}-"
    for attempt in range(MAX_ATTEMPTS):
        with sessions() as session:
            existing = session.execute(select(model).filter_by(source_key=source_key)).scalar_one_or_none()
            if existing:
                return existing
            # Four-digit sequences: the greatest reference as text has the greatest number.
            last = session.execute(
                select(func.max(model.reference)).where(model.reference.like(day_prefix + "%"))
            ).scalar()
            row = make(f"{day_prefix}{int(last.rsplit('-', 1)[1]) + 1 if last else 1:04d}")
            session.add(row)
            try:
                if after_insert:
                    session.flush()
                    after_insert(session, row)
                session.commit()
                return row
            except IntegrityError:
                session.rollback()
        time.sleep(random.uniform(0, BACKOFF * 2 ** min(attempt, 6)))
    raise RuntimeError(f"no free {prefix} reference after {MAX_ATTEMPTS} attempts")
