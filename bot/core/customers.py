"""Customer profiles: import from a CRM export (CSV or JSON) and look-up.

Usage: ``python -m bot.server.customers import FILE [--database-url URL]``. Rows are
upserted by ``id``; a file with any invalid row is rejected whole, naming the row.

The optional ``email`` is personal data like the mobile numbers of bot/core/vault.py: kept sealed
with the personal-data key (Fernet) and found by a keyed hash of the lower-cased address
(HMAC-SHA256 under a key derived from the same one), never stored in plain text. A file without
an ``email`` column leaves the stored addresses as they are; an empty cell removes one.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import json
import re
from datetime import date
from email.utils import parseaddr
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.core.models import Customer

TIERS = ("private", "premier", "standard")
RISK_LEVELS = ("C1", "C2", "C3", "C4", "C5")
DEMO_CUSTOMERS = Path(__file__).parent / "demo_customers.json"
_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class InvalidCustomer(ValueError):
    pass


class EmailSeal:
    """Seals customers' email addresses and computes the keyed hash they are found by."""

    def __init__(self, personal_data_key: str):
        self.fernet = Fernet(personal_data_key.encode())
        # A key of its own for the look-up hash, derived from the personal-data key.
        self._lookup = hmac.new(base64.urlsafe_b64decode(personal_data_key), b"customer email lookup", hashlib.sha256).digest()

    def key_of(self, address: str) -> str:
        return hmac.new(self._lookup, address.strip().lower().encode("utf-8"), hashlib.sha256).hexdigest()

    def seal(self, address: str) -> str:
        return self.fernet.encrypt(address.strip().encode("utf-8")).decode()

    def open(self, sealed: str) -> str:
        return self.fernet.decrypt(sealed.encode()).decode("utf-8")


def profile_of(customer: Optional[Customer]) -> Dict[str, Any]:
    """What the assistant may know about the caller; anonymous visitors are standard tier."""
    if customer is None:
        return {"verified": False, "tier": "standard", "risk_level": None, "risk_expires": None}
    return {
        "verified": True, "id": customer.id, "name": customer.name, "tier": customer.tier, "risk_level": customer.risk_level,
        "risk_expires": customer.risk_expires, "language": customer.language,
    }


def validate(row: Dict[str, Any], where: str) -> Dict[str, Any]:
    """One CRM row as a clean profile, or InvalidCustomer naming what is wrong."""
    def field(name: str) -> str:
        return str(row.get(name) or "").strip()

    customer_id, name, tier = field("id"), field("name"), field("tier").lower()
    risk_level, risk_expires, language = field("risk_level").upper(), field("risk_expires"), field("language") or "zh"
    if not _ID.match(customer_id):
        raise InvalidCustomer(f"{where}: id must be 1–64 letters, digits, '_', '.' or '-'")
    if not name or len(name) > 200:
        raise InvalidCustomer(f"{where}: name is required (at most 200 characters)")
    if tier not in TIERS:
        raise InvalidCustomer(f"{where}: tier must be one of {', '.join(TIERS)}")
    if risk_level and risk_level not in RISK_LEVELS:
        raise InvalidCustomer(f"{where}: risk_level must be C1–C5 or empty")
    if risk_expires:
        try:
            date.fromisoformat(risk_expires)
        except ValueError:
            raise InvalidCustomer(f"{where}: risk_expires must be a date like 2027-06-30") from None
    if language not in ("zh", "en"):
        raise InvalidCustomer(f"{where}: language must be zh or en")
    profile = {
        "id": customer_id, "name": name, "tier": tier, "risk_level": risk_level or None,
        "risk_expires": risk_expires or None, "language": language,
    }
    if "email" in row:  # a column of the export: set or (empty) removed
        email = field("email")
        if email and (len(email) > 320 or parseaddr(email)[1] != email or not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email)):
            raise InvalidCustomer(f"{where}: email must be one address like name@example.com, or empty")
        profile["email"] = email or None
    return profile


def read_export(path: Path) -> List[Dict[str, Any]]:
    """Rows of a CRM export: a JSON list of objects, or CSV with a header row."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".json":
        rows = json.loads(text)
        if not isinstance(rows, list):
            raise InvalidCustomer(f"{path}: expected a JSON list of customers")
    else:
        rows = list(csv.DictReader(text.splitlines()))
    return [validate(row, f"{path.name} row {index}") for index, row in enumerate(rows, start=1)]


def upsert(session: Session, profiles: Iterable[Dict[str, Any]], seal: Optional[EmailSeal] = None) -> int:
    """Add or update the profiles; an ``email`` needs the ``seal``."""
    count = 0
    for profile in profiles:
        profile = dict(profile)
        customer = session.get(Customer, profile["id"]) or Customer(id=profile["id"])
        if "email" in profile:
            email = profile.pop("email")
            if email and seal is None:
                raise ValueError("an email address is only stored sealed: pass the EmailSeal")
            customer.email_key, customer.email_sealed = (seal.key_of(email), seal.seal(email)) if email else (None, None)
        for key, value in profile.items():
            setattr(customer, key, value)
        session.add(customer)
        count += 1
    session.commit()
    return count


def find(session: Session, customer_id: str) -> Optional[Customer]:
    return session.get(Customer, customer_id)


def by_email(session: Session, seal: EmailSeal, address: str) -> Optional[Customer]:
    """The one customer with this address (``None`` when none has it, or several do)."""
    found = session.execute(select(Customer).where(Customer.email_key == seal.key_of(address)).limit(2)).scalars().all()
    return found[0] if len(found) == 1 else None
