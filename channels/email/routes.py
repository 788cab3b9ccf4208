"""The email channel's routes: attachments and automated mail for the console, supervisors'
decisions on mail the outbox could not deliver (docs/staff-api.md), and the survey page."""

from __future__ import annotations

from typing import Optional
from urllib.parse import quote

from sanic.request import Request
from sanic.response import HTTPResponse, html as html_response, json as json_response, raw as raw_response

from bot import service_hours
from bot.core import audit
from bot.core.errors import Conflict, NotFound
from bot.handoff.router import may_see
from bot.http import inputs
from bot.http.client_address import request_address
from bot.http.errors import ApiError
from bot.core.staff import Staff
from bot.http import security_headers
from channels.email import outbox, survey


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


async def automated(request: Request) -> HTTPResponse:
    """The automated mail (out-of-office, newsletters, lists, bounces, no-reply senders, our own
    mail come back), newest first, for any signed-in agent: ``q`` searches subject, address, name
    and reason; ``before`` (the last id shown) pages on; ``limit`` 1–200 (50)."""
    channel = request.app.ctx.email
    await channel.host.console_staff(request, False)
    query = request.args.get("q") or ""
    inputs.check_query_value(query, "q")
    if len(query) > 200:
        raise inputs.InvalidInput("q is at most 200 characters.")
    limit = inputs.whole_number(request.args.get("limit"), "limit", 50, 1, 200)
    before = request.args.get("before")
    before = inputs.record_id(before, "before") if before else None
    service = channel.host.conversations
    found = await service.db(channel.processor.tickets.automated, query, limit, before)
    return json_response({"automated": [{
        "id": t.id, "reference": t.reference, "conversation_id": t.conversation_id, "subject": t.subject,
        "address": t.address, "name": t.name, "language": t.language, "reason": t.no_acknowledgement,
        "received_at": t.created_at.isoformat(timespec="seconds"), "queue_url": f"/console/api/email/automated/{t.id}/queue",
    } for t in found], "next_before": found[-1].id if len(found) == limit else None}, ensure_ascii=False)


async def queue_automated(request: Request, ticket_id: int) -> HTTPResponse:
    """An agent moves automated mail into the queue (CSRF, audited): an ordinary waiting
    handoff from then on. 404 for no such ticket, 409 when it is not automated (any more)."""
    channel = request.app.ctx.email
    staff = await channel.host.console_staff(request, True)
    service = channel.host.conversations
    ticket = await service.db(channel.processor.tickets.queue_automated, inputs.record_id(ticket_id, "ticket_id"),
                              f"staff:{staff.id}", request_address(request), service_hours.now())
    await service.handoffs.to_consoles({"type": "queue_changed", "conversation_id": ticket.conversation_id,
                                        "urgent": ticket.urgent})
    return json_response({"ok": True, "conversation_id": ticket.conversation_id, "reference": ticket.reference})


def _survey_page(status: int, body: str) -> HTTPResponse:
    return html_response(body, status=status, headers=security_headers.pages("no-store"))


async def _survey_of(request: Request, token: str):
    """(survey, ticket) a survey link names, or the 4xx page saying why not: 404 without survey
    mail, 403 for a link we did not make, 410 for an expired one, 409 for one used already."""
    processor = request.app.ctx.email.processor
    if processor.survey_links is None:
        return None, _survey_page(404, survey.page(None, "email_survey_page_title", survey.notice(None, "email_survey_page_invalid")))
    try:
        survey_id = processor.survey_links.survey_id(token, service_hours.now())
    except survey.InvalidLink:
        return None, _survey_page(403, survey.page(None, "email_survey_page_title", survey.notice(None, "email_survey_page_invalid")))
    except survey.ExpiredLink:
        return None, _survey_page(410, survey.page(None, "email_survey_page_title", survey.notice(None, "email_survey_page_expired")))
    service = processor.service
    found = await service.db(processor.surveys.find, survey_id)
    if found is None:
        return None, _survey_page(404, survey.page(None, "email_survey_page_title", survey.notice(None, "email_survey_page_invalid")))
    if found.rating is not None:
        return None, _survey_page(409, survey.page(found.language, "email_survey_page_title",
                                                   survey.notice(found.language, "email_survey_page_used")))
    ticket = await service.db(processor.tickets.ticket_of_conversation, found.conversation_id)
    return (found, ticket), None


def _rating(value: Optional[str], language: str):
    """(a rating 1–5 from the query or the form, None), or (None, the 400 page)."""
    if value in ("1", "2", "3", "4", "5"):
        return int(value), None
    return None, _survey_page(400, survey.page(language, "email_survey_page_title",
                                               survey.notice(language, "email_survey_page_rating")))


async def survey_page(request: Request, token: str) -> HTTPResponse:
    """A survey link opened: the page with its rating preselected. Nothing is recorded on GET,
    since mail scanners open every link of a mail (channels/email/survey.py)."""
    found, refused = await _survey_of(request, token)
    if refused:
        return refused
    rated, ticket = found
    chosen, refused = _rating(request.args.get("rating"), rated.language) if "rating" in request.args else (None, None)
    if refused:
        return refused
    form = survey.rating_form(token, ticket.shown_reference if ticket else "", rated.language, chosen)
    return _survey_page(200, survey.page(rated.language, "email_survey_page_title", "", form))


async def survey_answer(request: Request, token: str) -> HTTPResponse:
    """The page's form sent: the rating recorded, once."""
    found, refused = await _survey_of(request, token)
    if refused:
        return refused
    rated, _ = found
    rating, refused = _rating(request.form.get("rating") if request.form else None, rated.language)
    if refused:
        return refused
    processor = request.app.ctx.email.processor
    try:
        await processor.service.db(processor.surveys.rate_once, rated.id, rating, service_hours.now())
    except (Conflict, NotFound):  # answered in another tab at this moment
        return _survey_page(409, survey.page(rated.language, "email_survey_page_title",
                                             survey.notice(rated.language, "email_survey_page_used")))
    return _survey_page(200, survey.page(rated.language, "email_survey_page_title",
                                         survey.notice(rated.language, "email_survey_page_thanks", rating=rating)))


DECISIONS = {"requeue": outbox.requeue, "confirm-sent": outbox.confirm_sent}
ROUTES = [
    (attachment, "/console/api/email-attachments/<attachment_id:int>", "GET"),
    (automated, "/console/api/email/automated", "GET"),
    (queue_automated, "/console/api/email/automated/<ticket_id:int>/queue", "POST"),
    (survey_page, "/email/survey/<token>", "GET"),
    (survey_answer, "/email/survey/<token>", "POST"),
    (attention, "/api/v1/staff/email/outbox", "GET"),
    (decide, "/api/v1/staff/email/outbox/<outbox_id:int>/<action>", "POST"),
]
