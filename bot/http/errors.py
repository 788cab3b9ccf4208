"""The web layer's one answer to every error: ``{"error": {"code", "message"}}`` with the status
that fits it. Route handlers raise :class:`ApiError`; the core raises its own errors
(bot/core/errors.py), mapped here to a status once for every route."""

from __future__ import annotations

import logging
from typing import Any, Dict, Optional

from sanic import Sanic
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse, json as json_response, text
from sqlalchemy.exc import OperationalError

from bot.core import errors
from bot.http import inputs

logger = logging.getLogger(__name__)
HTTP_ERROR_CODES = {404: "not_found", 405: "method_not_allowed", 413: "too_large", 503: "unavailable"}
DOMAIN_STATUS = {errors.NotFound: 404, errors.Forbidden: 403, errors.Conflict: 409, errors.InvalidChange: 422}


class ApiError(SanicException):
    """An error answered as ``{"error": {"code", "message"}}``."""

    def __init__(self, status: int, code: str, message: str, headers: Optional[Dict[str, str]] = None):
        super().__init__(message, status_code=status)
        self.code = code
        self.headers = headers or {}


def status_of(error: errors.DomainError) -> int:
    return next((status for kind, status in DOMAIN_STATUS.items() if isinstance(error, kind)), 422)


def json_body(request: Request) -> Dict[str, Any]:
    """The request's JSON object, read by the rules of bot/http/inputs.py ({} for no body)."""
    return inputs.json_object(request.body) if request.body else {}


def csv_attachment(body: str, filename: str) -> HTTPResponse:
    """A CSV download that spreadsheets open correctly: UTF-8 with a byte-order mark (without it
    Excel reads the file in the system's code page and garbles Chinese), as an attachment, never
    cached or sniffed. ``filename`` must be safe in a header (callers build it from known parts)."""
    return text("\ufeff" + body, content_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store",
                         "X-Content-Type-Options": "nosniff"})


def error_body(code: str, message: str) -> Dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def install(app: Sanic) -> None:
    """Answer every error of ``app`` in the API's error body; refuse requests no route can use."""

    @app.exception(ApiError)
    async def api_error(request, error: ApiError):
        return json_response(error_body(error.code, str(error)), status=error.status_code, headers=error.headers)

    @app.exception(errors.DomainError)
    async def domain_error(request, error: errors.DomainError):
        return json_response(error_body(error.code, str(error)), status=status_of(error))

    @app.exception(inputs.InvalidInput)
    async def invalid_input(request, error: inputs.InvalidInput):
        return json_response(error_body("invalid_request", str(error)), status=400)

    @app.exception(SanicException)
    async def http_error(request, error: SanicException):
        """Sanic's own refusals (no such route, wrong method, body over 64 KB...) in the API's error body."""
        if error.status_code >= 500:
            logger.error("%s %s: %s", request.method, request.path, error, exc_info=error)
        code = HTTP_ERROR_CODES.get(error.status_code, "invalid_request" if error.status_code < 500 else "unavailable")
        return json_response(error_body(code, str(error)), status=error.status_code, headers=getattr(error, "headers", None))

    @app.exception(OperationalError)
    async def database_down(request, error: OperationalError):
        # Nothing was stored, so the client keeps the message and sends it again (same id).
        logger.error("database unavailable: %s", type(error.orig).__name__ if error.orig else error)
        return json_response(error_body(
            "unavailable", "We can't take messages for a moment. Your message was not lost: please send it again shortly."),
            status=503, headers={"Retry-After": "10"})

    @app.middleware("request")
    async def refuse_odd_requests(request: Request) -> None:
        """Requests no route can use: control characters in the query string (stored or looked up,
        they would fail in PostgreSQL), a WebSocket route without a valid WebSocket handshake."""
        for name, values in request.args.items():
            for value in values:
                inputs.check_query_value(value, name)
        if request.route and getattr(request.route.ctx, "websocket", False):
            refusal = inputs.websocket_refusal(request.path, request.headers.items())
            if refusal:
                status, reason = refusal
                if status == 426:
                    raise ApiError(426, "upgrade_required", reason, {"Upgrade": "websocket"})
                raise ApiError(status, "invalid_request", reason)
