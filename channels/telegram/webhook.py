"""``POST /channels/telegram/webhook`` in the contact service.

Telegram sends each update with the secret given to setWebhook in
``X-Telegram-Bot-Api-Secret-Token``; it is compared in constant time and a request without it
is refused (403) before its body is read (the route streams its body) or anything is stored.
The answer is 200 only once the update and what it causes are committed: Telegram retries any
other answer, so a database outage (503, from the contact service's OperationalError handler)
loses nothing, and the update id makes the retry harmless.

An update the service will not read (not JSON, nested absurdly deep, no integer update_id: the
rules of bot/http/inputs.py) is answered 200 as well, since a retry would be refused the same
way, and logged as a warning with the reason and the start of the body, personal numbers masked:
with no update id it cannot have a ``telegram_updates`` row. Updates of kinds the channel does
not handle do get their row (``updates.OTHER``).
"""

from __future__ import annotations

import hmac
import logging

from sanic.request import Request
from sanic.response import HTTPResponse, json as json_response
from sqlalchemy.exc import OperationalError

from bot.http import inputs
from bot.http.errors import ApiError
from bot.privacy import mask_sensitive
from channels.telegram.config import SECRET_HEADER, WEBHOOK_PATH
from channels.telegram.inbound import TelegramInbound

logger = logging.getLogger(__name__)
MAX_UPDATE_BYTES = 1024 * 1024  # far above any real update (a 4096-character text, its entities, a quoted reply)
LOGGED_EXCERPT = 300  # characters of a refused update in the log


def refused(body: bytes, reason: str) -> None:
    """Log an update that will not be read: the reason and a bounded excerpt, personal numbers
    masked, control characters escaped (``%r``), so the line cannot forge other log lines."""
    excerpt = mask_sensitive(body[:4 * LOGGED_EXCERPT].decode("utf-8", errors="replace"))[:LOGGED_EXCERPT]
    logger.warning("telegram update refused (%s), %d bytes: %r", reason, len(body), excerpt)


async def webhook(request: Request) -> HTTPResponse:
    inbound: TelegramInbound = request.app.ctx.telegram
    given = request.headers.get(SECRET_HEADER, "").encode()
    if not hmac.compare_digest(given, inbound.config.webhook_secret.encode()):
        raise ApiError(403, "forbidden", "Wrong or missing secret token.")
    request.stream.request_max_size = MAX_UPDATE_BYTES  # beyond it: 413 (Sanic's PayloadTooLarge)
    await request.receive_body()
    try:
        update = inputs.json_object(request.body, max_bytes=MAX_UPDATE_BYTES)
        update_id = update.get("update_id")
        if isinstance(update_id, bool) or not isinstance(update_id, int) or not 0 <= update_id <= inputs.MAX_ID:
            raise inputs.InvalidInput("no update_id that is a whole number")
    except inputs.InvalidInput as error:
        refused(request.body, str(error))
        return json_response({"ok": True})
    try:
        await inbound.receive(update)
    except OperationalError:
        raise  # the database is down: 503, and Telegram delivers the update again
    except Exception:
        # A fault of ours with this update: retrying would fail the same way and hold up the
        # bot's later updates, so it is logged and acknowledged.
        logger.exception("telegram update %s could not be handled", update_id)
    return json_response({"ok": True})


ROUTES = [(webhook, WEBHOOK_PATH, "POST", {"stream": True})]
