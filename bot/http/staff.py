"""What the staff-facing routes (the console, the staff API, a channel's staff routes) share."""

from __future__ import annotations

from sanic.request import Request

from bot.core.staff import ROLES, Staff
from bot.http.client_address import client_address
from bot.http.errors import ApiError


def require_role(staff: Staff, role: str) -> None:
    """403 unless ``staff`` has ``role`` or a higher one (a supervisor may do what an agent may)."""
    if ROLES.index(staff.role) < ROLES.index(role):
        raise ApiError(403, "forbidden", f"Only a {role} may do this.")


def request_address(request: Request) -> str:
    """The client's address (its real one behind a trusted proxy), for limits and the audit log."""
    return client_address(request, request.app.ctx.settings.trusted_proxies)
