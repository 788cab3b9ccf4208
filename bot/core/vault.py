"""Mobile numbers customers give so that staff can call them back: kept encrypted, shown masked.

Everything the service stores or logs has personal numbers masked (``bot.privacy``), and so does
the text the assistant sees. A callback is useless without the real number, though, so the
contact service seals each mobile number of an inbound message (Fernet: AES-128-CBC with an
HMAC) in ``personal_numbers``, beside the message. The action server, which has no key, links a
booking or complaint to the sealed number by its masked form in the same conversation; only the
staff API, in the contact service, opens it again.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Dict, Iterable, List, Optional

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import Column, DateTime, ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Session, sessionmaker

from bot.core.models import Base
from bot.privacy import mobile_numbers


class PersonalNumber(Base):
    __tablename__ = "personal_numbers"
    id = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id = Column(String(80), nullable=False, index=True)
    message_id = Column(Integer, ForeignKey("messages.id"), nullable=False)
    kind = Column(String(8), nullable=False, default="mobile")
    masked = Column(String(20), nullable=False)
    ciphertext = Column(Text, nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False, default=lambda: datetime.now(timezone.utc))


class Vault:
    def __init__(self, key: str):
        self.fernet = Fernet(key.encode())

    def seal(self, conversation_id: str, text: str) -> List[PersonalNumber]:
        """Rows for the mobile numbers in ``text`` (the caller adds them with the message)."""
        return [
            PersonalNumber(conversation_id=conversation_id, kind="mobile", masked=masked,
                           ciphertext=self.fernet.encrypt(number.encode()).decode())
            for number, masked in mobile_numbers(text)
        ]

    def reveal(self, sessions: sessionmaker, refs: Iterable[Optional[int]]) -> Dict[int, str]:
        """The numbers behind ``refs`` (for staff); one sealed with another key is left out."""
        wanted = {ref for ref in refs if ref}
        if not wanted:
            return {}
        with sessions() as session:
            rows = session.execute(select(PersonalNumber).where(PersonalNumber.id.in_(wanted))).scalars()
            numbers = {}
            for row in rows:
                try:
                    numbers[row.id] = self.fernet.decrypt(row.ciphertext.encode()).decode()
                except InvalidToken:
                    pass
            return numbers


def sealed_number(session: Session, conversation_id: Optional[str], masked: Optional[str]) -> Optional[int]:
    """The latest sealed number of the conversation with this masked form, if any."""
    if not conversation_id or not masked:
        return None
    query = (select(PersonalNumber.id)
             .where(PersonalNumber.conversation_id == conversation_id, PersonalNumber.masked == masked)
             .order_by(PersonalNumber.id.desc()).limit(1))
    return session.execute(query).scalar_one_or_none()
