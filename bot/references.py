"""References (``C20261128-483924``, ``CB…``, ``AP…``, ``Q…``) and idempotent inserts.

A reference is a prefix, the Asia/Shanghai day, and six digits: five random and a check digit
(Damm's algorithm over the day and the random digits). Random, not a daily count, so references
tell nobody how many complaints or bookings the firm had that day; the check digit, as in bank
account numbers, catches every single mistyped digit and every swap of two neighbours, so a
mistyped reference is told apart from an unknown one. References made before this scheme have a
four-digit daily count instead (``C20261128-0007``) and stay valid: the parsers accept both.

Complaints and bookings are filed at most once per ``source_key`` (the conversation and the
customer message that asked for them). Two rows may draw the same reference, or two requests may
file the same source at the same moment; the unique constraints catch either, and the loser
backs off for a random, growing while and tries again.
"""

from __future__ import annotations

import random
import re
import secrets
import time
from datetime import datetime
from typing import Callable, Optional, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.service_hours import SHANGHAI

Row = TypeVar("Row")
MAX_ATTEMPTS = 30
BACKOFF = 0.005  # seconds, doubled per attempt up to 64 times this
RANDOM_DIGITS = 5
# The number part: six digits now, four in references made before they were random.
NUMBER = r"(?:\d{6}|\d{4})"
# Damm's quasigroup of order 10 (the table every implementation uses).
_DAMM = ("0317598642", "7092154863", "4206871359", "1750983426", "6123045978",
         "3674209581", "5869720134", "8945362017", "9438617205", "2581436790")


def _damm(digits: str) -> int:
    interim = 0
    for digit in digits:
        interim = int(_DAMM[interim][int(digit)])
    return interim


def new_reference(prefix: str, moment: datetime) -> str:
    """A fresh reference for ``moment``'s day (Asia/Shanghai)."""
    digits = f"{moment.astimezone(SHANGHAI):%Y%m%d}" + "".join(str(secrets.randbelow(10)) for _ in range(RANDOM_DIGITS))
    return f"{prefix}{digits[:8]}-{digits[8:]}{_damm(digits)}"


def pattern(prefix: str) -> str:
    """A regular expression matching ``prefix``'s references (both forms), for finding them in text."""
    return rf"{prefix}\d{{8}}-{NUMBER}(?!\d)"


def well_formed(reference: str) -> bool:
    """Whether ``reference`` could be one of ours: an old four-digit one, or a new one whose check
    digit is right (a mistyped digit or two swapped neighbours make it False)."""
    found = re.fullmatch(r"[A-Z]+(\d{8})-(\d{6}|\d{4})", reference)
    if not found:
        return False
    return len(found.group(2)) == 4 or _damm(found.group(1) + found.group(2)) == 0


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
    inserted with a new reference of ``moment``'s day (``after_insert`` adds rows in the same
    transaction, and may raise to insert nothing)."""
    for attempt in range(MAX_ATTEMPTS):
        with sessions() as session:
            existing = session.execute(select(model).filter_by(source_key=source_key)).scalar_one_or_none()
            if existing:
                return existing
            row = make(new_reference(prefix, moment))
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
