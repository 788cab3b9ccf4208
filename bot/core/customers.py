"""Customer profiles: import from a CRM export (CSV or JSON) and look-up.

Usage: ``python -m bot.core.customers import FILE [--database-url URL]``. Rows are
upserted by ``id``; a file with any invalid row is rejected whole, naming the row.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import date
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional

from sqlalchemy.orm import Session

from bot.core.models import Customer

TIERS = ("private", "premier", "standard")
RISK_LEVELS = ("C1", "C2", "C3", "C4", "C5")
DEMO_CUSTOMERS = Path(__file__).parent / "demo_customers.json"
_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class InvalidCustomer(ValueError):
    pass


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
    return {
        "id": customer_id, "name": name, "tier": tier, "risk_level": risk_level or None,
        "risk_expires": risk_expires or None, "language": language,
    }


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


def upsert(session: Session, profiles: Iterable[Dict[str, Any]]) -> int:
    count = 0
    for profile in profiles:
        customer = session.get(Customer, profile["id"]) or Customer(id=profile["id"])
        for key, value in profile.items():
            setattr(customer, key, value)
        session.add(customer)
        count += 1
    session.commit()
    return count


def find(session: Session, customer_id: str) -> Optional[Customer]:
    return session.get(Customer, customer_id)
