"""``POST /channels/telegram/webhook`` in the contact service, and the channel's start and stop.

Telegram sends each update with the secret given to setWebhook in
``X-Telegram-Bot-Api-Secret-Token``; it is compared in constant time and a request without it
is refused (403) before anything is read or stored. The answer is 200 only once the update
and what it causes are committed: Telegram retries any other answer, so a database outage
(503, from the contact service's OperationalError handler) loses nothing, and the update id
makes the retry harmless.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import TYPE_CHECKING, Optional

from sanic import Blueprint, Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, json as json_response
from sqlalchemy.exc import OperationalError

from channels.telegram.config import SECRET_HEADER, WEBHOOK_PATH, TelegramConfig, telegram_config
from channels.telegram.inbound import TelegramInbound
from channels.telegram.outbound import TelegramSender, make_bot
from channels.telegram.store import TelegramStore

if TYPE_CHECKING:
    from bot.contact.app import ContactService

logger = logging.getLogger(__name__)


def blueprint(inbound: TelegramInbound, config: TelegramConfig) -> Blueprint:
    from bot.contact.app import ApiError  # the service's {"error": {"code", "message"}} answers

    bp = Blueprint("telegram")
    secret = config.webhook_secret.encode()

    @bp.post(WEBHOOK_PATH)
    async def webhook(request: Request) -> HTTPResponse:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, secret):
            raise ApiError(403, "forbidden", "Wrong or missing secret token.")
        try:
            update = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ApiError(400, "invalid_request", "The body is not valid JSON.") from None
        update_id = update.get("update_id") if isinstance(update, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            raise ApiError(400, "invalid_request", "An update is a JSON object with an integer update_id.")
        try:
            await inbound.receive(update)
        except OperationalError:
            raise  # the database is down: 503, and Telegram delivers the update again
        except Exception:
            # A fault of ours with this update: retrying would fail the same way and hold up the
            # bot's later updates, so it is logged and acknowledged.
            logger.exception("telegram update %s could not be handled", update_id)
        return json_response({"ok": True})

    return bp


def install(app: Sanic, service: "ContactService") -> Optional[TelegramInbound]:
    """Register the channel with the contact service when ``TELEGRAM_BOT_TOKEN`` is set (the
    route, the outbound listener, the sender's start and stop). Returns ``None`` when it is off;
    raises TelegramConfigError when the token is set without a valid webhook secret."""
    config = telegram_config(service.settings)
    if config is None:
        return None
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its request lines name the URL, which holds the token
    store = TelegramStore(service.store.sessions)
    sender = TelegramSender(service, store, make_bot(config))
    inbound = TelegramInbound(service, store, sender, config)
    service.outbound_listeners.append(sender.wake)
    app.ctx.telegram = inbound

    async def start(app, _loop) -> None:  # after the app's own start, which migrates
        sender.start()  # the first sweep sends what an earlier run left unsent

    async def stop(app, _loop) -> None:
        await inbound.stop()
        await sender.stop()

    app.register_listener(start, "before_server_start")
    app.register_listener(stop, "before_server_stop")
    app.blueprint(blueprint(inbound, config))
    return inbound
