"""Branch look-up (spec 4.3.3)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from bot import knowledge


def branches() -> List[Dict[str, Any]]:
    return knowledge.load("branches")["branches"]


def find_branch(city: Optional[str]) -> Optional[Dict[str, Any]]:
    """The branch for a city given by canonical name or any alias, case-insensitively."""
    if not city:
        return None
    wanted = city.strip().lower()
    for branch in branches():
        if wanted == branch["city"].lower() or wanted in (a.lower() for a in branch["aliases"]):
            return branch
    return None


def describe(branch: Dict[str, Any], language: str) -> str:
    return knowledge.message(
        "branch",
        language,
        name=branch["name"][language],
        address=branch["address"][language],
        phone=branch["phone"],
        hours=knowledge.load("branches")["hours"][language],
    )
