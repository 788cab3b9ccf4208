"""Supervisors' review of misunderstood messages and the early warnings, in the console's API
(docs/console.md, "Review and early warning"); the rules are in ``bot/quality/``.

Supervisors only (403 for agents). Labels are audited; the export is Rasa YAML NLU data.
"""

from __future__ import annotations

from sanic.request import Request
from sanic.response import HTTPResponse, json as json_response, text

from bot import service_hours
from bot.core import audit
from bot.console.auth import console_staff
from bot.http.client_address import request_address
from bot.http.staff import require_role
from bot.http import inputs, routes
from bot.core.conversations import Conversations
from bot.http.errors import ApiError, json_body
from bot.core.staff import Staff
from bot.console.quality import choice, filters_of
from bot.quality import early_warning
from bot.quality.review import InvalidLabel, Review, intents

STATUSES = ("unlabelled", "labelled", "all")


class ReviewDesk:
    """What the review routes keep per app (``app.ctx.review``)."""

    def __init__(self, service: Conversations):
        self.service = service
        self.review = Review(service.store.sessions)
        self.labels = intents()


async def supervisor(request: Request, csrf: bool = False) -> Staff:
    staff = await console_staff(request, request.app.ctx.conversations, csrf=csrf)
    require_role(staff, "supervisor")
    return staff


async def items(request: Request) -> HTTPResponse:
    await supervisor(request)
    desk = request.app.ctx.review
    filters = filters_of(request.args, service_hours.now().date(), desk.service.kinds())
    status = choice(request.args, "status", STATUSES) or "unlabelled"
    found = await desk.service.db(desk.review.items, filters, status)
    return json_response({"items": [i.as_dict() for i in found], "intents": desk.labels}, ensure_ascii=False)


async def label(request: Request, message_id: int) -> HTTPResponse:
    staff = await supervisor(request, csrf=True)
    desk = request.app.ctx.review
    service = desk.service
    message_id = inputs.record_id(message_id, "message_id")
    intent = json_body(request).get("intent")
    address = request_address(request)

    def write() -> None:
        desk.review.label(message_id, intent, staff.id, service_hours.now(), desk.labels)
        with service.store.sessions() as session:
            audit.record(session, f"staff:{staff.id}", "nlu_label", str(message_id), address, intent=intent)
            session.commit()

    try:
        await service.db(write)
    except InvalidLabel as error:
        raise ApiError(422, "invalid_label", str(error)) from None
    except LookupError:
        raise ApiError(404, "not_found", "No customer message with this id.") from None
    return json_response({"message_id": message_id, "label": intent})


async def export(request: Request) -> HTTPResponse:
    await supervisor(request)
    desk = request.app.ctx.review
    # labels given in the period, when one is asked for; else every label
    filters = filters_of(request.args, service_hours.now().date(), desk.service.kinds()) if request.args.get("from") else None
    body = await desk.service.db(desk.review.export, filters)
    name = f"nlu-labels-{service_hours.now():%Y%m%d}.yml"
    return text(body, content_type="application/x-yaml; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{name}"'})


async def warnings(request: Request) -> HTTPResponse:
    await supervisor(request)
    service = request.app.ctx.conversations
    days = inputs.whole_number(request.args.get("days"), "days", early_warning.DAYS, 1, 14)
    baseline = inputs.whole_number(request.args.get("baseline"), "baseline", early_warning.BASELINE, 7, 90)
    found = await service.db(early_warning.warnings, service.store.sessions, service_hours.now().date(), days, baseline)
    return json_response({"days": days, "baseline": baseline, "warnings": [w.as_dict() for w in found]},
                         ensure_ascii=False)


ROUTES = [
    (items, "/console/api/quality/review", "GET"),
    (label, "/console/api/quality/review/<message_id:int>/label", "POST"),
    (export, "/console/api/quality/review/export.yml", "GET"),
    (warnings, "/console/api/quality/warnings", "GET"),
]


def install(app, service: Conversations) -> None:
    app.ctx.review = ReviewDesk(service)
    app.blueprint(routes.blueprint("console_review", ROUTES))
