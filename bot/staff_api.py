"""The staff API (docs/staff-api.md): complaint queues, changes and reports for agents and
supervisors, under ``/api/v1/staff/``. Every route needs ``Authorization: Bearer <staff token>``;
who may change what is decided in ``bot.complaints.lifecycle``.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any, Dict, List, Optional, Tuple

from sanic.request import Request
from sanic.response import HTTPResponse, html, json as json_response
from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import sessionmaker

from bot import service_hours
from bot.bookings.store import BookingStore
from bot.complaints import report
from bot.complaints.desk import OPEN_STATES
from bot.complaints.lifecycle import ComplaintLifecycle
from bot.core.time import iso
from bot.complaints.models import CATEGORIES, STATES, Complaint, ComplaintEvent
from bot.core import audit
from bot.http.client_address import request_address
from bot.http.staff import require_role
from bot.http import inputs
from bot.core.conversations import Conversations
from bot.core.db import taking_turns
from bot.http import routes
from bot.http.errors import ApiError, csv_attachment, json_body
from bot.core.models import Message
from bot.core.staff import Staff, authenticate, retire_demo, seed_demo
from bot.core.store import message_dict
from bot.core.vault import Vault

MAX_PAGE = 200
MAX_REPORT_DAYS = 366
# The earliest deadline still to meet; the SQL twin of ``next_due`` below, for ordering queues.
NEXT_DUE = case(
    (Complaint.first_replied_at.is_(None), Complaint.first_reply_due),
    (Complaint.resolution_due < Complaint.regulatory_due, Complaint.resolution_due),
    else_=Complaint.regulatory_due,
)


def next_due(complaint: Complaint):
    if complaint.state not in OPEN_STATES:
        return None
    if complaint.first_replied_at is None:
        return complaint.first_reply_due
    return min(complaint.resolution_due, complaint.regulatory_due)


def complaint_dict(c: Complaint, numbers: Dict[int, str]) -> Dict[str, Any]:
    """``numbers``: the sealed mobile numbers staff may see (``Vault.reveal``)."""
    return {
        "reference": c.reference, "state": c.state, "category": c.category, "severity": c.severity,
        "urgent": c.urgent, "channel": c.channel, "language": c.language, "product": c.product,
        "customer_id": c.customer_id, "conversation_id": c.conversation_id, "description": c.description,
        "desired_outcome": c.desired_outcome, "contact": c.contact,
        "contact_number": numbers.get(c.contact_ref), "assignee": c.assignee,
        "resolution": c.resolution, "overdue": list(c.overdue or []),
        "received_at": iso(c.received_at), "first_reply_due": iso(c.first_reply_due),
        "resolution_due": iso(c.resolution_due), "regulatory_due": iso(c.regulatory_due),
        "regulatory_extension_days": c.regulatory_extension_days, "next_due": iso(next_due(c)),
        "first_replied_at": iso(c.first_replied_at), "resolved_at": iso(c.resolved_at),
        "closed_at": iso(c.closed_at), "updated_at": iso(c.updated_at),
    }


async def bearer_staff(service: Conversations, request: Request) -> Staff:
    """The staff member whose token the request carries (``Authorization: Bearer``); 401 if none."""
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else None
    staff = await service.db(authenticate, service.store.sessions, token) if token else None
    if staff is None:
        raise ApiError(401, "unauthorized", "A valid staff token is required: Authorization: Bearer <token>.",
                       {"WWW-Authenticate": "Bearer"})
    return staff


def booking_dict(booking, numbers: Dict[int, str], **particulars) -> Dict[str, Any]:
    """A callback or appointment for the staff list, with the number to call."""
    return {
        "reference": booking.reference, "state": booking.state, "name": booking.name, "mobile": booking.mobile,
        "mobile_number": numbers.get(booking.mobile_ref),
        "channel": booking.channel, "language": booking.language, "customer_id": booking.customer_id,
        "conversation_id": booking.conversation_id, "created_at": iso(booking.created_at),
        **{key: iso(value) if hasattr(value, "tzinfo") else value for key, value in particulars.items()},
    }


def event_dict(e: ComplaintEvent) -> Dict[str, Any]:
    return {"id": e.id, "at": iso(e.at), "actor": e.actor, "kind": e.kind, "detail": e.detail}


def _filters(args) -> List[Any]:
    """SQL conditions from the query string (docs/staff-api.md); ApiError 400 for a bad one."""
    def bad(message: str):
        return ApiError(400, "invalid_request", message)

    conditions = []
    state = args.get("state")
    if state == "open":
        conditions.append(Complaint.state.in_(OPEN_STATES))
    elif state:
        if state not in STATES:
            raise bad(f"state must be open or one of {', '.join(STATES)}.")
        conditions.append(Complaint.state == state)
    if args.get("category"):
        if args.get("category") not in CATEGORIES:
            raise bad(f"category must be one of {', '.join(CATEGORIES)}.")
        conditions.append(Complaint.category == args.get("category"))
    if args.get("urgent"):
        if args.get("urgent") not in ("0", "1", "true", "false"):
            raise bad("urgent must be 1 or 0.")
        conditions.append(Complaint.urgent.is_(args.get("urgent") in ("1", "true")))
    if args.get("overdue") in ("1", "true"):
        conditions.append(func.json_array_length(Complaint.overdue) > 0)
    if args.get("assignee") == "none":
        conditions.append(Complaint.assignee.is_(None))
    elif args.get("assignee"):
        conditions.append(Complaint.assignee == args.get("assignee"))
    if args.get("q"):
        pattern = "%" + args.get("q").strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conditions.append(or_(*(column.ilike(pattern, escape="\\") for column in
                                (Complaint.reference, Complaint.customer_id, Complaint.description))))
    return conditions


def _page(args) -> Tuple[int, int]:
    return (inputs.whole_number(args.get("limit"), "limit", 50, 1, MAX_PAGE),
            inputs.whole_number(args.get("offset"), "offset", 0, 0, inputs.MAX_ID))


def list_complaints(sessions: sessionmaker, conditions: List[Any], limit: int, offset: int) -> Tuple[List[Complaint], int]:
    """A page of the queue: open complaints first, urgent first, then by the next deadline."""
    done_last = case((Complaint.state.in_(OPEN_STATES), 0), else_=1)
    with sessions() as session:
        total = session.execute(select(func.count()).select_from(Complaint).where(*conditions)).scalar_one()
        query = (select(Complaint).where(*conditions)
                 .order_by(done_last, Complaint.urgent.desc(), NEXT_DUE, Complaint.id).limit(limit).offset(offset))
        return list(session.execute(query).scalars()), total


def complaint_with_events(sessions: sessionmaker, vault: Vault, reference: str) -> Optional[Dict[str, Any]]:
    with sessions() as session:
        complaint = session.execute(select(Complaint).where(Complaint.reference == reference.strip().upper())).scalar_one_or_none()
        if complaint is None:
            return None
        events = session.execute(
            select(ComplaintEvent).where(ComplaintEvent.complaint_id == complaint.id).order_by(ComplaintEvent.id)
        ).scalars()
        numbers = vault.reveal(sessions, [complaint.contact_ref])
        return {"complaint": complaint_dict(complaint, numbers), "events": [event_dict(e) for e in events]}


def _period(args) -> Tuple[date, date]:
    try:
        start, end = date.fromisoformat(args.get("from", "")), date.fromisoformat(args.get("to", ""))
    except ValueError:
        raise ApiError(400, "invalid_request", "from and to are required, as YYYY-MM-DD.") from None
    if end < start or end - start >= timedelta(days=MAX_REPORT_DAYS):
        raise ApiError(400, "invalid_request", f"to must be on or after from, and at most {MAX_REPORT_DAYS} days later.")
    return start, end


class LivePush:
    """The lifecycle's ``notify``: delivers a committed message to the customer through the
    channels. It is called from a worker thread, so it hands the delivery to the server's loop."""

    def __init__(self, service: Conversations):
        self.service = service
        self.loop: Optional[asyncio.AbstractEventLoop] = None

    def __call__(self, message: Message) -> None:
        asyncio.run_coroutine_threadsafe(self.service.deliver(message), self.loop)


class StaffDesk:
    """What the staff routes keep per app (``app.ctx.staff_api``)."""

    def __init__(self, service: Conversations):
        self.service = service
        self.push = LivePush(service)
        self.lifecycle = ComplaintLifecycle(service.store.sessions, notify=self.push)
        self.bookings = BookingStore(service.store.sessions)
        self.changes = {  # POST /complaints/<reference>/<action>: the method and the body fields it takes
            "transition": (self.lifecycle.transition, ("to", "resolution", "reason")),
            "severity": (self.lifecycle.set_severity, ("severity",)),
            "urgent": (self.lifecycle.set_urgent, ("urgent",)),
            "assign": (self.lifecycle.assign, ("assignee",)),
            "extend": (self.lifecycle.extend, ("days", "reason")),
            "notes": (self.lifecycle.add_note, ("text",)),
        }


def desk_of(request: Request) -> StaffDesk:
    return request.app.ctx.staff_api


async def signed_in(request: Request) -> Staff:
    return await bearer_staff(desk_of(request).service, request)


async def supervisor(request: Request) -> Staff:
    staff = await signed_in(request)
    require_role(staff, "supervisor")
    return staff


async def queue(request: Request) -> HTTPResponse:
    await signed_in(request)
    service = desk_of(request).service
    conditions, (limit, offset) = _filters(request.args), _page(request.args)
    complaints, total = await service.db(list_complaints, service.store.sessions, conditions, limit, offset)
    numbers = await service.db(service.vault.reveal, service.store.sessions, [c.contact_ref for c in complaints])
    return json_response({"complaints": [complaint_dict(c, numbers) for c in complaints], "total": total,
                          "limit": limit, "offset": offset}, ensure_ascii=False)


async def complaint(request: Request, reference: str) -> HTTPResponse:
    await signed_in(request)
    service = desk_of(request).service
    found = await service.db(complaint_with_events, service.store.sessions, service.vault, reference)
    if found is None:
        raise ApiError(404, "not_found", f"No complaint {reference}.")
    return json_response(found, ensure_ascii=False)


async def change(request: Request, reference: str, action: str) -> HTTPResponse:
    staff = await signed_in(request)
    desk = desk_of(request)
    if action not in desk.changes:
        raise ApiError(404, "not_found", f"No such change; use one of {', '.join(desk.changes)}.")
    method, fields = desk.changes[action]
    body = json_body(request)
    service = desk.service
    await service.db(method, reference, staff, *(body.get(name) for name in fields))  # refusals: bot/http/errors.py
    return json_response(await service.db(complaint_with_events, service.store.sessions, service.vault, reference),
                         ensure_ascii=False)


async def period_report(request: Request) -> report.ComplaintReport:
    await signed_in(request)
    start, end = _period(request.args)
    service = desk_of(request).service
    return await service.db(report.build, service.store.sessions, start, end, service_hours.now())


async def report_csv(request: Request) -> HTTPResponse:
    result = await period_report(request)
    filename = f"complaints-{result.start}-{result.end}.csv"
    return csv_attachment(report.to_csv(result), filename)


async def report_html(request: Request) -> HTTPResponse:
    result = await period_report(request)
    return html(report.to_html(result), headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})


async def callbacks(request: Request) -> HTTPResponse:
    await signed_in(request)
    desk = desk_of(request)
    service = desk.service
    found = await service.db(desk.bookings.list_callbacks, request.args.get("state"))
    numbers = await service.db(service.vault.reveal, service.store.sessions, [c.mobile_ref for c in found])
    return json_response({"callbacks": [booking_dict(c, numbers, window_start=c.window_start, window_end=c.window_end)
                                        for c in found]}, ensure_ascii=False)


async def appointments(request: Request) -> HTTPResponse:
    await signed_in(request)
    desk = desk_of(request)
    service = desk.service
    found = await service.db(desk.bookings.list_appointments, request.args.get("state"))
    numbers = await service.db(service.vault.reveal, service.store.sessions, [a.mobile_ref for a in found])
    return json_response({"appointments": [booking_dict(a, numbers, city=a.city, starts_at=a.starts_at, ends_at=a.ends_at)
                                           for a in found]}, ensure_ascii=False)


async def parked(request: Request) -> HTTPResponse:
    """Customer messages the assistant failed on too often (``Conversations.answer``)."""
    await supervisor(request)
    service = desk_of(request).service
    found = await service.db(service.store.parked)
    return json_response({"messages": [{**message_dict(m), "conversation_id": m.conversation_id, "attempts": m.attempts}
                                       for m in found]}, ensure_ascii=False)


async def retry_parked(request: Request, message_id: int) -> HTTPResponse:
    """Give a parked message back to the retry loop once its cause is fixed (audited)."""
    staff = await supervisor(request)
    service = desk_of(request).service
    message_id = inputs.record_id(message_id, "message_id")
    address = request_address(request)
    message = await service.db(service.store.unpark, message_id, lambda session: audit.record(
        session, f"staff:{staff.id}", "message_retry", f"message:{message_id}", address))
    if message is None:
        raise ApiError(409, "conflict", "That message is not parked (or no such message).")
    return json_response({"message": {**message_dict(message), "status": message.status}}, ensure_ascii=False)


ROUTES = [
    (queue, "/api/v1/staff/complaints", "GET"),
    (complaint, "/api/v1/staff/complaints/<reference>", "GET"),
    (change, "/api/v1/staff/complaints/<reference>/<action>", "POST"),
    (report_csv, "/api/v1/staff/reports/complaints.csv", "GET"),
    (report_html, "/api/v1/staff/reports/complaints.html", "GET"),
    (callbacks, "/api/v1/staff/callbacks", "GET"),
    (appointments, "/api/v1/staff/appointments", "GET"),
    (parked, "/api/v1/staff/messages/parked", "GET"),
    (retry_parked, "/api/v1/staff/messages/<message_id:int>/retry", "POST"),
]


def install(app, service: Conversations) -> None:
    """The staff routes on ``app``. Install it after the app's own start listener, which migrates
    the database: this one seeds the demo supervisor into it."""
    desk = app.ctx.staff_api = StaffDesk(service)

    async def start(app, _loop):
        desk.push.loop = asyncio.get_running_loop()

        def demo_accounts():  # they exist in demo mode only
            with taking_turns(service.engine), service.store.sessions() as session:
                if service.settings.demo:
                    seed_demo(session)
                else:
                    retire_demo(session)
        await service.db(demo_accounts)

    app.register_listener(start, "before_server_start")
    app.blueprint(routes.blueprint("staff_api", ROUTES))
