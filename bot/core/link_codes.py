"""One-time codes that link a messaging account (Telegram) to a verified customer profile.

A logged-in customer gets a code from the website or app (``POST /api/v1/link-codes``) and
sends it to the bot (``/start CODE`` from the deep link, or ``/link CODE``). Codes are random,
kept only as a SHA-256 hash, valid for 10 minutes and used once. ``attempts`` limits how many
codes one messaging account may try (``ATTEMPTS`` per ``ATTEMPT_WINDOW``; the channel names the
account), counted on the shared rates, so the limit holds across contact-service processes.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Optional, Tuple

from sqlalchemy import Column, String, update

from bot.core.time import ShanghaiTime
from bot.core.models import Base
from bot.core.ratelimit import Limiter, LocalRates, Rate, Rates

VALID_FOR = timedelta(minutes=10)
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud or typed from a phone
LENGTH = 8
ATTEMPTS, ATTEMPT_WINDOW = 5, 15 * 60.0  # codes tried per messaging account


class LinkCode(Base):
    __tablename__ = "link_codes"
    code_hash = Column(String(64), primary_key=True)
    customer_id = Column(String(64), nullable=False)
    expires_at = Column(ShanghaiTime, nullable=False)
    used_at = Column(ShanghaiTime)
    used_by = Column(String(80))  # the conversation it linked


def _hash(code: str) -> str:
    return hashlib.sha256(code.strip().upper().encode()).hexdigest()


class LinkCodes:
    def __init__(self, sessions, rates: Optional[Rates] = None):
        self.sessions = sessions
        self.attempts = Limiter(rates or LocalRates(), Rate("link_code_attempts", ATTEMPTS, ATTEMPT_WINDOW))

    def issue(self, customer_id: str, now: datetime) -> Tuple[str, datetime]:
        code = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        expires = now + VALID_FOR
        with self.sessions() as session:
            session.add(LinkCode(code_hash=_hash(code), customer_id=customer_id, expires_at=expires))
            session.commit()
        return code, expires

    def redeem(self, code: str, conversation_id: str, now: datetime) -> Optional[str]:
        """The customer the code names, if it is valid and unused; it is used up at once (a
        conditional update, so two redemptions at the same moment cannot both succeed)."""
        if not code or len(code.strip()) != LENGTH:
            return None
        with self.sessions() as session:
            taken = session.execute(
                update(LinkCode)
                .where(LinkCode.code_hash == _hash(code), LinkCode.used_at.is_(None), LinkCode.expires_at > now)
                .values(used_at=now, used_by=conversation_id)
                .execution_options(synchronize_session=False)
            )
            if taken.rowcount != 1:
                session.rollback()
                return None
            customer_id = session.get(LinkCode, _hash(code)).customer_id
            session.commit()
            return customer_id
