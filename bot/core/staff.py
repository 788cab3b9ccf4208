"""Staff accounts (agents and supervisors) and their API tokens.

Usage::

    python -m bot.core.staff add <id> --name NAME --role agent|supervisor [--password] [--database-url URL]
    python -m bot.core.staff deactivate <id> [--database-url URL]

``add`` creates the account, or updates and re-activates an existing one, and always issues a
new token (the old one stops working). The token is printed once; only its SHA-256 is stored.
A plain hash is enough because tokens are 256-bit random strings, not guessable passwords.

A token reads ``<staff id>.<secret>``: the id finds the account, the secret is compared in
constant time.

``--password`` also sets the password for the agent console (docs/console.md), read from
STAFF_PASSWORD or asked for. Passwords are chosen by people, so they are stored as argon2id
hashes (slow and salted), unlike tokens; ``add`` without ``--password`` keeps the current one.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Optional

from argon2 import PasswordHasher
from sqlalchemy import Boolean, Column, DateTime, String
from sqlalchemy.orm import Session, sessionmaker

from bot.core.models import Base, utcnow
from bot.core.settings import kept_file_secret

ROLES = ("agent", "supervisor")
LANGUAGES = ("zh", "en")  # of the console (bot/console/locales/); Simplified Chinese unless chosen
DEMO_SUPERVISOR = "demo-supervisor"
DEMO_AGENT = "demo-agent"
MIN_PASSWORD, MAX_PASSWORD = 12, 1024
PASSWORDS = PasswordHasher()  # argon2id with the library's current recommended parameters
_ID = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$")


class Staff(Base):
    __tablename__ = "staff"
    id = Column(String(64), primary_key=True)  # login name
    name = Column(String(200), nullable=False)
    role = Column(String(16), nullable=False)  # agent | supervisor
    token_hash = Column(String(64))  # SHA-256 (hex) of the API token's secret part
    password_hash = Column(String(255))  # argon2 hash of the console password, or NULL: no console login
    active = Column(Boolean, nullable=False, default=True)
    language = Column(String(2), nullable=False, default="zh", server_default="zh")  # the console's
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)

    @property
    def is_supervisor(self) -> bool:
        return self.role == "supervisor"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _token_for(staff_id: str, secret: str) -> str:
    return f"{staff_id}.{secret}"


def hash_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise ValueError(f"the password must be {MIN_PASSWORD}–{MAX_PASSWORD} characters")
    return PASSWORDS.hash(password)


def save(session: Session, staff_id: str, name: str, role: str, secret: Optional[str] = None,
         password: Optional[str] = None) -> str:
    """Create or update an active account with a new token (and ``password``, if given; else
    the current one stays); returns the token. Commits."""
    if not _ID.match(staff_id):
        raise ValueError("the id must be 1–64 letters, digits, '_', '.' or '-' (not starting with '.')")
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if not name.strip() or len(name) > 200:
        raise ValueError("a name (at most 200 characters) is required")
    password_hash = hash_password(password) if password is not None else None
    secret = secret or secrets.token_urlsafe(32)
    staff = session.get(Staff, staff_id) or Staff(id=staff_id, created_at=utcnow())
    staff.name, staff.role, staff.active, staff.token_hash = name.strip(), role, True, _digest(secret)
    staff.password_hash = password_hash or staff.password_hash
    session.add(staff)
    session.commit()
    return _token_for(staff_id, secret)


def set_language(session: Session, staff_id: str, language: str) -> None:
    """The console language ``staff_id`` prefers (one of :data:`LANGUAGES`). Commits."""
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}")
    session.get(Staff, staff_id).language = language
    session.commit()


def deactivate(session: Session, staff_id: str) -> bool:
    """Disable an account (its token and password stop working; re-adding it needs a new
    password); the row stays for the complaint history."""
    staff = session.get(Staff, staff_id)
    if staff is None:
        return False
    staff.active, staff.token_hash, staff.password_hash = False, None, None
    session.commit()
    return True


def authenticate(sessions: sessionmaker, bearer: Optional[str]) -> Optional[Staff]:
    """The active staff member a bearer token belongs to, or None."""
    staff_id, _, secret = (bearer or "").rpartition(".")  # token_urlsafe never contains "."
    if not staff_id or not secret:
        return None
    with sessions() as session:
        staff = session.get(Staff, staff_id)
    if staff is None or not staff.active or not staff.token_hash:
        return None
    return staff if hmac.compare_digest(staff.token_hash, _digest(secret)) else None


def find_active(session: Session, staff_id: str) -> Optional[Staff]:
    staff = session.get(Staff, staff_id)
    return staff if staff is not None and staff.active else None


def demo_token() -> str:
    """The demo supervisor's API token (``var/staff-demo-token``)."""
    return kept_file_secret("staff-demo-token", lambda: _token_for(DEMO_SUPERVISOR, secrets.token_urlsafe(32)))


def demo_password(staff_id: str) -> str:
    """The console password of a demo account (``var/console-demo-password-<id>``)."""
    return kept_file_secret(f"console-demo-password-{staff_id}", lambda: secrets.token_urlsafe(16))


def seed_demo(session: Session) -> None:
    """Demo mode: ``demo-supervisor``, holding the token from :func:`demo_token`, and
    ``demo-agent``, both with console passwords from :func:`demo_password`."""
    secret = demo_token().rpartition(".")[2]
    save(session, DEMO_SUPERVISOR, "Demo Supervisor", "supervisor", secret=secret, password=demo_password(DEMO_SUPERVISOR))
    save(session, DEMO_AGENT, "Demo Agent", "agent", password=demo_password(DEMO_AGENT))


def retire_demo(session: Session) -> None:
    """Production mode: the demo accounts of a database that once ran the demo are deactivated
    at every start, so the token and passwords ``make run`` printed open nothing (the ids
    ``demo-supervisor`` and ``demo-agent`` are the demo's own)."""
    for staff_id in (DEMO_SUPERVISOR, DEMO_AGENT):
        if find_active(session, staff_id):
            deactivate(session, staff_id)
