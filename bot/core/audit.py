"""The audit log: who did what, when and from where, for every agent action (docs/console.md).

Rows are only ever added, in the transaction of the action they record, so an action and its
entry are committed together or not at all. Nothing here updates or deletes them, and the ORM
refuses to. ``detail`` must not hold secrets: keys naming passwords or tokens are refused, and
personal numbers in text are masked.
"""

from __future__ import annotations

from typing import Any, Optional

from sqlalchemy import JSON, Column, DateTime, Integer, String, event
from sqlalchemy.orm import Session

from bot.core.models import Base, utcnow
from bot.privacy import mask_sensitive

_SECRET_WORDS = ("password", "token", "secret")


class AuditEntry(Base):
    __tablename__ = "audit_log"
    id = Column(Integer, primary_key=True, autoincrement=True)
    at = Column(DateTime(timezone=True), nullable=False, default=utcnow, index=True)
    actor = Column(String(80), nullable=False, index=True)  # staff:<id> | system | anonymous
    action = Column(String(48), nullable=False)  # login | login_failed | logout | session_expired | …
    target = Column(String(120), index=True)  # what was acted on: staff:<id>, a complaint reference, …
    detail = Column(JSON, nullable=False)
    ip = Column(String(64))


@event.listens_for(AuditEntry, "before_update")
@event.listens_for(AuditEntry, "before_delete")
def _append_only(*_) -> None:
    raise ValueError("the audit log is append-only")


def record(session: Session, actor: str, action: str, target: Optional[str] = None, ip: Optional[str] = None,
           **detail: Any) -> AuditEntry:
    """Add an entry to ``session`` (the caller commits it with the action)."""
    for key in detail:
        if any(word in key.lower() for word in _SECRET_WORDS):
            raise ValueError(f"the audit log keeps no secrets ({key!r})")
    detail = {key: mask_sensitive(value) if isinstance(value, str) else value for key, value in detail.items()}
    entry = AuditEntry(at=utcnow(), actor=actor, action=action, target=target and target[:120], ip=ip, detail=detail)
    session.add(entry)
    return entry
