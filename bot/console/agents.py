"""The agent console's API (docs/console.md): the queue, claiming a waiting conversation, the
whole conversation with the customer's profile and open cases, replies (checked against the
compliance rules first, bot/compliance.py; supervisors see the overrides), internal notes,
transfers and handing the conversation back to the assistant; and a WebSocket telling consoles
what changed. Every change is audited in its own transaction.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Dict, List, Optional

from sanic.request import Request
from sanic.response import HTTPResponse, json as json_response
from sqlalchemy import select

from bot import compliance, knowledge, service_hours
from bot.bookings.store import BookingStore
from bot.complaints.desk import ComplaintDesk
from bot.core.time import as_aware, iso
from bot.core import audit
from bot.console import canned
from bot.console.auth import console_staff
from bot.http.client_address import request_address
from bot.http import inputs
from bot.core.conversations import Conversations
from bot.http import routes
from bot.http.errors import ApiError, json_body
from bot.http.staff import require_role
from bot.core.ratelimit import ConnectionCap
from bot.core.models import Message
from bot.core.staff import Staff
from bot.core.store import message_dict
from bot.handoff.models import Handoff
from bot.handoff.router import may_see
from bot.privacy import mask_sensitive
from bot.service_hours import SHANGHAI

MAX_TEXT = 2000
MAX_OVERRIDE_REASON = 500
OVERRIDES_DAYS, MAX_OVERRIDES = 7, 500  # the supervisors' list of overrides: default period, most shown
SOCKETS_PER_STAFF = 10  # console WebSockets one staff member may have open (tabs, windows)


def live_wait_seconds(handoff: Handoff, now: datetime) -> float:
    """How long the customer waited live for an agent: until one took them, they left a message
    or left the queue, or until now."""
    end = handoff.claimed_at or handoff.left_message_at or handoff.resolved_at or now
    return (end - handoff.requested_at).total_seconds()


def handoff_dict(handoff: Handoff, now: datetime, position: Optional[int] = None,
                 service_level: Optional[float] = None) -> Dict[str, Any]:
    """A handoff as the console shows it; ``over_service_level``: the customer waited (or has been
    waiting) live longer than the service level (seconds; docs/console.md, "Honest waiting")."""
    return {
        "id": handoff.id, "conversation_id": handoff.conversation_id, "state": handoff.state,
        "reason": handoff.reason, "queue": handoff.queue, "urgent": handoff.urgent, "tier": handoff.tier,
        "language": handoff.language, "channel": handoff.channel, "summary": handoff.summary, "complaint_reference": handoff.complaint_reference,
        "agent_id": handoff.agent_id, "requested_at": iso(handoff.requested_at), "claimed_at": iso(handoff.claimed_at),
        "waiting_seconds": round((now - handoff.requested_at).total_seconds()), "position": position,
        "left_message": handoff.left_message_at is not None, "left_message_at": iso(handoff.left_message_at),
        "over_service_level": service_level is not None and live_wait_seconds(handoff, now) > service_level,
    }


def notes_of(sessions, conversation_id: str) -> List[Dict[str, Any]]:
    """Internal notes on a conversation (kept in the audit log, never shown to the customer)."""
    with sessions() as session:
        query = (select(audit.AuditEntry)
                 .where(audit.AuditEntry.action == "note", audit.AuditEntry.target == conversation_id)
                 .order_by(audit.AuditEntry.id))
        return [{"at": iso(as_aware(e.at)), "by": e.actor, "text": e.detail.get("text")} for e in session.execute(query).scalars()]


class AgentsDesk:
    """What the console's agent routes keep per app (``app.ctx.console_agents``)."""

    def __init__(self, service: Conversations):
        self.service = service
        self.complaints, self.bookings = ComplaintDesk(service.store.sessions), BookingStore(service.store.sessions)
        # Only a logged-in staff member keeps a console socket open, so they are capped per account
        # (tabs), not per address: a whole office of agents may share one address.
        self.sockets_per_staff = ConnectionCap(SOCKETS_PER_STAFF)


def service_of(request: Request) -> Conversations:
    return request.app.ctx.conversations


def recorder(staff: Staff, action: str, request: Request, **detail):
    def record(session, handoff: Handoff) -> None:
        audit.record(session, f"staff:{staff.id}", action, handoff.conversation_id,
                     request_address(request), handoff=handoff.id, **detail)
    return record


async def handoff_of(service: Conversations, handoff_id: str) -> Handoff:
    handoff = await service.db(service.handoffs.desk.get, inputs.record_id(handoff_id, "handoff_id"))
    if handoff is None:
        raise ApiError(404, "not_found", "No such handoff.")
    return handoff


def text_of(body: Dict[str, Any]) -> str:
    text = body.get("text")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
        raise ApiError(422, "invalid_change", f"text must be 1–{MAX_TEXT} characters.")
    return text.strip()


async def after_queue_change(service: Conversations, handoff: Handoff) -> None:
    if handoff.state != "waiting":
        await service.handoffs.left_queue(handoff.conversation_id)
    await service.handoffs.to_consoles({"type": "queue_changed", "conversation_id": handoff.conversation_id})
    await service.handoffs.announce_positions()


async def queue(request: Request) -> HTTPResponse:
    service = service_of(request)
    desk = service.handoffs.desk
    staff = await console_staff(request, service, csrf=False)
    now = service_hours.now()
    waiting = await service.db(desk.waiting)
    positions = desk.positions(waiting)
    live = await service.db(desk.with_agent, None if staff.is_supervisor else staff.id)
    level = service.settings.wait_service_level
    return json_response({
        "waiting": [handoff_dict(h, now, positions[h.id], level) for h in waiting],
        "with_agents" if staff.is_supervisor else "mine": [handoff_dict(h, now, service_level=level) for h in live],
        "agents_online": await service.handoffs.agents_online(),
        "service_level_seconds": level,
    }, ensure_ascii=False)


async def channels(request: Request) -> HTTPResponse:
    """The kinds of conversation the installed channels bring, with their names and what they can
    do (the console shows the names and words a claim by them; the dashboard filters by them)."""
    service = service_of(request)
    await console_staff(request, service, csrf=False)
    return json_response({"channels": [
        {"kind": kind.name, "label": kind.labels.get("en", kind.name), "labels": kind.labels,
         "live_chat": channel.capabilities.live_chat, "replies_by_email": channel.capabilities.replies_by_email}
        for channel in service.channels for kind in channel.kinds]}, ensure_ascii=False)


async def conversation(request: Request, conversation_id: str) -> HTTPResponse:
    service, agents = service_of(request), request.app.ctx.console_agents
    staff = await console_staff(request, service, csrf=False)
    handoff = await service.db(service.handoffs.desk.open_for, conversation_id)
    if handoff is None or not may_see(staff, handoff):
        raise ApiError(404, "not_found", "No conversation of yours or in the queue with this id.")
    talk = await service.db(service.store.conversation, conversation_id)
    messages = await service.db(service.store.history, conversation_id)
    open_cases = await service.db(agents.complaints.open_for_owner, talk.customer_id, conversation_id)
    callbacks = [c for c in await service.db(agents.bookings.list_callbacks, "requested") if c.conversation_id == conversation_id]
    return json_response({
        "handoff": handoff_dict(handoff, service_hours.now()),
        "customer": await service.profile(talk),
        "channel": talk.channel,
        "messages": [message_dict(m) for m in messages],
        "notes": await service.db(notes_of, service.store.sessions, conversation_id),
        "complaints": [{"reference": c.reference, "state": c.state, "category": c.category, "urgent": c.urgent,
                        "resolution_due": iso(c.resolution_due)} for c in open_cases],
        "callbacks": [{"reference": c.reference, "window_start": iso(c.window_start)} for c in callbacks],
        "channel_details": await service.details(talk),  # an email's ticket and attachments
        "canned_replies": canned.replies(handoff.language, staff.name),  # in the customer's language
    }, ensure_ascii=False)


async def claim(request: Request, handoff_id: str) -> HTTPResponse:
    service = service_of(request)
    staff = await console_staff(request, service, csrf=True)
    handoff = await service.db(service.handoffs.desk.claim, (await handoff_of(service, handoff_id)).id, staff.id,
                               service_hours.now(), recorder(staff, "claim", request))
    if service.capabilities(handoff.channel).live_chat:  # a mail thread is not told who opened it, only answered
        await service.say(handoff.conversation_id, knowledge.message("agent_joined", handoff.language, name=staff.name), "system")
    await after_queue_change(service, handoff)
    return json_response({"handoff": handoff_dict(handoff, service_hours.now())}, ensure_ascii=False)


async def transfer(request: Request, handoff_id: str) -> HTTPResponse:
    service = service_of(request)
    staff = await console_staff(request, service, csrf=True)
    body = json_body(request)
    handoff = await service.db(service.handoffs.desk.transfer, (await handoff_of(service, handoff_id)).id, staff.id,
                               service_hours.now(), body.get("queue"), body.get("agent"),
                               recorder(staff, "transfer", request, queue=body.get("queue"), agent=body.get("agent")))
    await after_queue_change(service, handoff)
    return json_response({"handoff": handoff_dict(handoff, service_hours.now())}, ensure_ascii=False)


async def resolve(request: Request, handoff_id: str) -> HTTPResponse:
    service = service_of(request)
    staff = await console_staff(request, service, csrf=True)
    handoff = await service.db(service.handoffs.desk.resolve, (await handoff_of(service, handoff_id)).id, staff.id,
                               service_hours.now(), recorder(staff, "resolve", request))
    await service.handoffs.hand_back(handoff)
    await after_queue_change(service, handoff)
    return json_response({"handoff": handoff_dict(handoff, service_hours.now())}, ensure_ascii=False)


def override_reason_of(body: Dict[str, Any]) -> Optional[str]:
    reason = body.get("override_reason")
    if reason is None:
        return None
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_OVERRIDE_REASON:
        raise ApiError(422, "invalid_change", f"override_reason must be 1–{MAX_OVERRIDE_REASON} characters.")
    return reason.strip()


async def check_draft(service: Conversations, conversation_id: str, draft: str) -> List[compliance.Finding]:
    """The compliance findings on an agent's draft (spans index ``draft`` as the console sent it),
    for the conversation's language and its customer's verified profile."""
    talk = await service.db(service.store.conversation, conversation_id)
    return compliance.check(draft, talk.language, await service.profile(talk), service_hours.now().date())


def findings_body(findings: List[compliance.Finding]) -> Dict[str, Any]:
    """The findings, and the disclosure the console may append to the draft (``None`` if none is missing)."""
    return {"findings": [f.as_dict() for f in findings],
            "disclosure": next((f.disclosure for f in findings if f.disclosure), None)}


async def reply(request: Request, conversation_id: str) -> HTTPResponse:
    """The agent's reply, checked first (bot/compliance.py): with findings it is refused (422,
    nothing stored or sent) unless the agent sends it anyway with an ``override_reason``, which
    is audited with the message."""
    service = service_of(request)
    staff = await console_staff(request, service, csrf=True)
    body = json_body(request)
    text, reason = text_of(body), override_reason_of(body)
    handoff = await service.db(service.handoffs.desk.open_for, conversation_id)
    if handoff is None or handoff.state != "with_agent" or handoff.agent_id != staff.id:
        raise ApiError(409, "conflict", "Claim the conversation before replying; it is not yours now.")
    findings = await check_draft(service, conversation_id, body["text"])
    if findings and reason is None:
        rules = ", ".join(dict.fromkeys(f.rule for f in findings))
        return json_response({"error": {
            "code": "compliance_check", "message": f"The reply breaks the compliance rules ({rules}): edit it, or send it "
                                                   "anyway with an override_reason.", **findings_body(findings)}},
            status=422, ensure_ascii=False)
    address = request_address(request)

    def store_and_audit():
        with service.store.sessions() as session:
            message = Message(conversation_id=conversation_id, direction="out", sender="agent", text=mask_sensitive(text),
                              status="sent")
            session.add(message)
            session.flush()
            audit.record(session, f"staff:{staff.id}", "reply", conversation_id, address, message=message.id)
            if findings:
                audit.record(session, f"staff:{staff.id}", compliance.OVERRIDE, conversation_id, address, message=message.id,
                             handoff=handoff.id, rules=list(dict.fromkeys(f.rule for f in findings)), reason=reason)
            session.commit()
            return message

    message = await service.db(store_and_audit)
    await service.deliver(message)
    frame = {"type": "message", "message": message_dict(message), "conversation_id": conversation_id}
    await service.handoffs.to_consoles(frame, conversation_id)
    return json_response({"message": message_dict(message), **findings_body(findings)}, ensure_ascii=False)


async def check(request: Request, conversation_id: str) -> HTTPResponse:
    """The compliance findings on a draft, without sending it (the console warns while the agent types)."""
    service = service_of(request)
    staff = await console_staff(request, service, csrf=True)
    body = json_body(request)
    text_of(body)
    if not may_see(staff, await service.db(service.handoffs.desk.open_for, conversation_id)):
        raise ApiError(404, "not_found", "No conversation of yours or in the queue with this id.")
    return json_response(findings_body(await check_draft(service, conversation_id, body["text"])), ensure_ascii=False)


def overrides_since(sessions, since: datetime) -> List[Dict[str, Any]]:
    """Replies agents sent despite the compliance rules, newest first, with what they said."""
    with sessions() as session:
        entries = session.execute(
            select(audit.AuditEntry).where(audit.AuditEntry.action == compliance.OVERRIDE, audit.AuditEntry.at >= since)
            .order_by(audit.AuditEntry.id.desc()).limit(MAX_OVERRIDES)).scalars().all()
        ids = [e.detail.get("message") for e in entries]
        texts = dict(session.execute(select(Message.id, Message.text).where(Message.id.in_(ids))).all()) if ids else {}
        return [{"at": iso(as_aware(e.at)), "by": e.actor.removeprefix("staff:"), "conversation_id": e.target,
                 "message_id": e.detail.get("message"), "rules": e.detail.get("rules", []), "reason": e.detail.get("reason"),
                 "text": texts.get(e.detail.get("message"))} for e in entries]


async def overrides(request: Request) -> HTTPResponse:
    """Supervisors only: the overrides since ``since`` (a Beijing day, YYYY-MM-DD; default the last week)."""
    service = service_of(request)
    require_role(await console_staff(request, service, csrf=False), "supervisor")
    raw = request.args.get("since") or ""
    try:
        day = date.fromisoformat(raw) if raw else service_hours.now().date() - timedelta(days=OVERRIDES_DAYS - 1)
    except ValueError:
        raise ApiError(400, "invalid_request", "since must be a date as YYYY-MM-DD.") from None
    since = datetime.combine(day, time(0), tzinfo=SHANGHAI)
    found = await service.db(overrides_since, service.store.sessions, since.astimezone(timezone.utc))
    return json_response({"since": iso(since), "overrides": found}, ensure_ascii=False, headers={"Cache-Control": "no-store"})


async def typing(request: Request, conversation_id: str) -> HTTPResponse:
    service = service_of(request)
    staff = await console_staff(request, service, csrf=True)
    typing_on = bool(json_body(request).get("on"))
    handoff = await service.db(service.handoffs.desk.open_for, conversation_id)
    if handoff is not None and handoff.agent_id == staff.id:
        await service.notify(conversation_id, {"type": "typing", "on": typing_on})
    return json_response({"ok": True})


async def note(request: Request, conversation_id: str) -> HTTPResponse:
    service = service_of(request)
    staff = await console_staff(request, service, csrf=True)
    text = text_of(json_body(request))
    if not may_see(staff, await service.db(service.handoffs.desk.open_for, conversation_id)):
        raise ApiError(404, "not_found", "No conversation of yours or in the queue with this id.")
    address = request_address(request)

    def write():
        with service.store.sessions() as session:
            audit.record(session, f"staff:{staff.id}", "note", conversation_id, address, text=text)
            session.commit()

    await service.db(write)
    await service.handoffs.to_consoles({"type": "note", "conversation_id": conversation_id}, conversation_id)
    return json_response({"notes": await service.db(notes_of, service.store.sessions, conversation_id)}, ensure_ascii=False)


async def console_socket(request: Request, ws) -> None:
    """Pushes what changed (queue, messages, notes, the customer typing) to the logged-in
    console: what this staff member may see (``HandoffRouter.to_consoles``)."""
    service, sockets_per_staff = service_of(request), request.app.ctx.console_agents.sockets_per_staff
    try:
        staff = await console_staff(request, service, csrf=False)  # checks the Origin too
    except ApiError as error:
        await ws.send(json.dumps({"type": "error", "error": {"code": error.code, "message": str(error)}}))
        await ws.close()
        return
    if not sockets_per_staff.open(staff.id):
        await ws.send(json.dumps({"type": "error", "error": {
            "code": "too_many_connections", "message": f"At most {SOCKETS_PER_STAFF} console windows at once; close another."}}))
        await ws.close(1013, "too many connections")  # 1013: try again later
        return
    await service.handoffs.console_opened(ws, staff)
    try:
        while True:
            await ws.recv()  # the console only listens; this notices when it goes away
    finally:
        sockets_per_staff.closed(staff.id)
        await service.handoffs.console_closed(ws)


ROUTES = [
    (queue, "/console/api/queue", "GET"),
    (channels, "/console/api/channels", "GET"),
    (conversation, "/console/api/conversations/<conversation_id>", "GET"),
    (claim, "/console/api/handoffs/<handoff_id>/claim", "POST"),
    (transfer, "/console/api/handoffs/<handoff_id>/transfer", "POST"),
    (resolve, "/console/api/handoffs/<handoff_id>/resolve", "POST"),
    (reply, "/console/api/conversations/<conversation_id>/messages", "POST"),
    (check, "/console/api/conversations/<conversation_id>/messages/check", "POST"),
    (overrides, "/console/api/overrides", "GET"),
    (typing, "/console/api/conversations/<conversation_id>/typing", "POST"),
    (note, "/console/api/conversations/<conversation_id>/notes", "POST"),
    (console_socket, "/console/ws", "WEBSOCKET"),
]


def install(app, service: Conversations) -> None:
    """The agent routes on ``app``, whose ``ctx.conversations`` is ``service``."""
    app.ctx.console_agents = AgentsDesk(service)
    app.blueprint(routes.blueprint("console_agents", ROUTES))
