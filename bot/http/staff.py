"""What the staff-facing routes (the console, the staff API, a channel's staff routes) share."""

from __future__ import annotations


from bot.core.staff import ROLES, Staff
from bot.http.errors import ApiError


def require_role(staff: Staff, role: str) -> None:
    """403 unless ``staff`` has ``role`` or a higher one (a supervisor may do what an agent may)."""
    if ROLES.index(staff.role) < ROLES.index(role):
        raise ApiError(403, "forbidden", f"Only a {role} may do this.")
