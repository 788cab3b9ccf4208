"""The email channel's routes: attachments for the console, and supervisors' decisions on mail
the outbox could not deliver (docs/staff-api.md)."""

from __future__ import annotations

from urllib.parse import quote

from sanic.request import Request
from sanic.response import HTTPResponse, json as json_response, raw as raw_response

from bot import service_hours
from bot.core import audit
from bot.handoff.router import may_see
from bot.http import inputs
from bot.http.client_address import request_address
from bot.http.errors import ApiError
from bot.core.staff import Staff
from channels.email import outbox


async def attachment(request: Request, attachment_id: int) -> HTTPResponse:
    """An attachment, for staff who may read its conversation, only ever as a download
    (octet-stream, nosniff, sandboxed): a browser neither renders nor runs it, whatever the sender
    declared."""
    channel = request.app.ctx.email
    service, tickets = channel.host.conversations, channel.processor.tickets
    staff = await channel.host.console_staff(request, False)
    found = await service.db(tickets.attachment, inputs.record_id(attachment_id, "attachment_id"))
    handoff = await service.db(service.handoffs.desk.open_for, found.conversation_id) if found else None
    if found is None or not may_see(staff, handoff):
        raise ApiError(404, "not_found", "No attachment of a conversation of yours with this id.")
    return raw_response(found.data, content_type="application/octet-stream", headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(found.filename, safe='')}",
        "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox", "Cache-Control": "private, no-store",
    })


async def supervisor(request: Request) -> Staff:
    staff = await request.app.ctx.email.host.bearer_staff(request)
    if not staff.is_supervisor:
        raise ApiError(403, "forbidden", "Only supervisors decide on undelivered mail.")
    return staff


async def attention(request: Request) -> HTTPResponse:
    """Supervisors' view of the mail an operator must decide on (``docs/staff-api.md``): parked
    (refused by the server) and uncertain (may or may not have left) mail."""
    await supervisor(request)
    service = request.app.ctx.email.host.conversations
    items = await service.db(outbox.needs_attention, service.store.sessions)
    return json_response({"mail": [{
        "id": i.id, "state": i.state, "subject": i.subject, "recipients": i.recipients, "reference": i.ticket_ref,
        "conversation_id": i.conversation_id, "attempts": i.attempts, "last_reply": i.last_reply,
        "created_at": i.created_at.isoformat(timespec="seconds"), "updated_at": i.updated_at.isoformat(timespec="seconds"),
    } for i in items]}, ensure_ascii=False)


async def decide(request: Request, outbox_id: int, action: str) -> HTTPResponse:
    """``requeue`` sends a mail again; ``confirm-sent`` records that the server's log shows it
    left. Both are audited."""
    staff = await supervisor(request)
    if action not in DECISIONS:
        raise ApiError(404, "not_found", "No such action; use requeue or confirm-sent.")
    outbox_id = inputs.record_id(outbox_id, "outbox_id")
    channel = request.app.ctx.email
    service = channel.host.conversations
    sessions, address = service.store.sessions, request_address(request)

    def apply() -> bool:
        done = DECISIONS[action](sessions, outbox_id, service_hours.now())
        if done:
            with sessions() as session:
                audit.record(session, f"staff:{staff.id}", f"email_{action}", str(outbox_id), address)
                session.commit()
        return done

    if not await service.db(apply):
        raise ApiError(409, "conflict", "That mail is not waiting for a decision (or no such mail).")
    if action == "requeue" and channel.processor.outbox_worker:
        channel.processor.outbox_worker.wake()
    return json_response({"ok": True})


DECISIONS = {"requeue": outbox.requeue, "confirm-sent": outbox.confirm_sent}
ROUTES = [
    (attachment, "/console/api/email-attachments/<attachment_id:int>", "GET"),
    (attention, "/api/v1/staff/email/outbox", "GET"),
    (decide, "/api/v1/staff/email/outbox/<outbox_id:int>/<action>", "POST"),
]
