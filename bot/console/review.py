"""Supervisors' review of misunderstood messages and the early warnings, in the console's API
(docs/console.md, "Review and early warning"); the rules are in ``bot/quality/``.

Supervisors only (403 for agents). Labels are audited; the export is Rasa YAML NLU data.
"""

from __future__ import annotations

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse, json as json_response, text

from bot import service_hours
from bot.core import audit
from bot.console.auth import console_staff
from bot.http.staff import request_address, require_role
from bot.http import inputs
from bot.core.conversations import Conversations
from bot.http.errors import ApiError, json_body
from bot.core.staff import Staff
from bot.console.quality import choice, filters_of
from bot.quality import early_warning
from bot.quality.review import InvalidLabel, Review, intents

STATUSES = ("unlabelled", "labelled", "all")


def blueprint(service: Conversations) -> Blueprint:
    bp = Blueprint("console_review")
    review = Review(service.store.sessions)
    labels = intents()

    async def supervisor(request: Request, csrf: bool = False) -> Staff:
        staff = await console_staff(request, service, csrf=csrf)
        require_role(staff, "supervisor")
        return staff

    @bp.get("/console/api/quality/review")
    async def items(request: Request) -> HTTPResponse:
        await supervisor(request)
        filters = filters_of(request.args, service_hours.now().date(), service.kinds())
        status = choice(request.args, "status", STATUSES) or "unlabelled"
        found = await service.db(review.items, filters, status)
        return json_response({"items": [i.as_dict() for i in found], "intents": labels}, ensure_ascii=False)

    @bp.post("/console/api/quality/review/<message_id:int>/label")
    async def label(request: Request, message_id: int) -> HTTPResponse:
        staff = await supervisor(request, csrf=True)
        message_id = inputs.record_id(message_id, "message_id")
        intent = json_body(request).get("intent")

        def write() -> None:
            review.label(message_id, intent, staff.id, service_hours.now(), labels)
            with service.store.sessions() as session:
                audit.record(session, f"staff:{staff.id}", "nlu_label", str(message_id), request_address(request, service),
                             intent=intent)
                session.commit()

        try:
            await service.db(write)
        except InvalidLabel as error:
            raise ApiError(422, "invalid_label", str(error)) from None
        except LookupError:
            raise ApiError(404, "not_found", "No customer message with this id.") from None
        return json_response({"message_id": message_id, "label": intent})

    @bp.get("/console/api/quality/review/export.yml")
    async def export(request: Request) -> HTTPResponse:
        await supervisor(request)
        # labels given in the period, when one is asked for; else every label
        filters = filters_of(request.args, service_hours.now().date(), service.kinds()) if request.args.get("from") else None
        body = await service.db(review.export, filters)
        name = f"nlu-labels-{service_hours.now():%Y%m%d}.yml"
        return text(body, content_type="application/x-yaml; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @bp.get("/console/api/quality/warnings")
    async def warnings(request: Request) -> HTTPResponse:
        await supervisor(request)
        days = inputs.whole_number(request.args.get("days"), "days", early_warning.DAYS, 1, 14)
        baseline = inputs.whole_number(request.args.get("baseline"), "baseline", early_warning.BASELINE, 7, 90)
        found = await service.db(early_warning.warnings, service.store.sessions, service_hours.now().date(), days, baseline)
        return json_response({"days": days, "baseline": baseline, "warnings": [w.as_dict() for w in found]},
                             ensure_ascii=False)

    return bp
