"""The contact service's HTTP and WebSocket API (docs/contact-api.md), the demo website and
the widget's static files.

Run it with ``python -m bot.contact`` (``make run`` does, beside Rasa and the action server).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set

from sanic import Sanic
from sanic_cors import CORS
from sqlalchemy.exc import OperationalError
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse, file, json as json_response, text

from bot import knowledge, metrics, service_hours
from bot.complaints import overdue
from bot.contact import customers, identity
from bot.contact.customers import profile_of
from bot.contact.db import make_engine, migrate, session_factory
from bot.contact.link_codes import LinkCodes
from bot.contact.models import Conversation, Message
from bot.contact.rasa_client import AssistantUnavailable, RasaClient
from bot.contact.ratelimit import RateLimiter
from bot.contact.settings import ROOT, Settings
from bot.contact.store import ConversationStore, message_dict
from bot.contact.vault import Vault
from bot.handoff.router import HandoffRouter
from bot.language import reply_language
from bot.privacy import mask_personal_numbers

logger = logging.getLogger(__name__)
WEB_STATIC = ROOT / "channels" / "web" / "static"
OPENAPI = Path(__file__).parent / "openapi.yaml"
_app_numbers = itertools.count(1)
TYPING_FRAMES, TYPING_WINDOW = 5, 1.0  # at most 5 typing frames a second per customer socket are passed on


class ApiError(SanicException):
    """An error answered as ``{"error": {"code", "message"}}``."""

    def __init__(self, status: int, code: str, message: str, headers: Optional[Dict[str, str]] = None):
        super().__init__(message, status_code=status)
        self.code = code
        self.headers = headers or {}


@dataclass
class Caller:
    """The session behind a request, with the customer profile it is for (if verified)."""

    session: identity.Session
    profile: Dict[str, Any]


class ConversationHub:
    """Open WebSockets per conversation, so every tab of a conversation sees every message."""

    def __init__(self) -> None:
        self.sockets: Dict[str, Set[Any]] = defaultdict(set)

    async def publish(self, conversation_id: str, frame: Dict[str, Any]) -> None:
        data = json.dumps(frame, ensure_ascii=False)
        for socket in list(self.sockets.get(conversation_id, ())):
            try:
                await socket.send(data)
            except Exception:  # a closed socket; its handler removes it
                self.sockets[conversation_id].discard(socket)


class ContactService:
    """Receives customer messages, stores them, gets the assistant's replies, delivers them."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.engine = make_engine(settings.database_url)
        self.store = ConversationStore(session_factory(self.engine))
        self.vault = Vault(settings.personal_data_key)
        self.link_codes = LinkCodes(self.store.sessions)
        self.rasa = RasaClient(settings.rasa_url, settings.rasa_timeout, settings.rasa_token)
        self.hub = ConversationHub()
        self.limiter = RateLimiter(settings.rate_limit_messages, settings.rate_limit_window)
        self._in_flight: Set[int] = set()
        self.handoffs = HandoffRouter(self)
        self.outbound_listeners: List[Callable[[Message], None]] = []  # channels told of each outbound message
        # per channel, what the console shows beside a conversation (the email channel's ticket)
        self.channel_details: Dict[str, Callable[[str], Awaitable[Optional[Dict[str, Any]]]]] = {}

    async def db(self, function, *args, **kwargs):
        return await asyncio.to_thread(function, *args, **kwargs)

    async def receive(self, caller: Caller, body: Dict[str, Any], client_key: str) -> Dict[str, Any]:
        """A customer message: validate, store, answer. Returns the API answer."""
        text, client_message_id = body.get("text"), body.get("client_message_id")
        if not isinstance(text, str) or not isinstance(client_message_id, str):
            raise ApiError(400, "invalid_request", "Send {\"text\": string, \"client_message_id\": string}.")
        if not 1 <= len(client_message_id) <= 64:
            raise ApiError(400, "invalid_request", "client_message_id must be 1–64 characters.")
        text = text.strip()
        if not text:
            raise ApiError(422, "empty_message", "The message is empty.")
        if len(text) > self.settings.max_message_chars:
            raise ApiError(413, "message_too_long", f"Messages are limited to {self.settings.max_message_chars} characters.")
        wait = self.limiter.retry_after(client_key)
        if wait:
            raise ApiError(429, "rate_limited", "Too many messages; please wait a moment.", {"Retry-After": str(int(wait) + 1)})
        conversation_id = caller.session.conversation_id
        inbound, duplicate = await self.db(
            self.store.store_inbound, conversation_id, client_message_id, mask_personal_numbers(text),
            self.vault.seal(conversation_id, text),
        )
        if duplicate:
            replies = await self.db(self.store.replies_to, inbound.id)
            return {"message": message_dict(inbound), "replies": [message_dict(r) for r in replies], "duplicate": True}
        replies = await self.handle_inbound(inbound, caller.profile)
        return {"message": message_dict(inbound), "replies": [message_dict(r) for r in replies], "duplicate": False}

    async def handle_inbound(self, inbound: Message, profile: Dict[str, Any]) -> List[Message]:
        """A customer message just stored (by the widget's API or a channel such as Telegram):
        shown on the conversation's open sockets, then for the agent's console while an agent has
        the conversation (no replies), else answered by the assistant. Returns the replies."""
        conversation_id = inbound.conversation_id
        await self.hub.publish(conversation_id, {"type": "message", "message": message_dict(inbound)})
        if inbound.status == "for_agent":
            await self.handoffs.to_consoles({"type": "message", "conversation_id": conversation_id, "message": message_dict(inbound)},
                                            conversation_id)
            return []
        return await self.answer(inbound, profile)

    async def answer(self, inbound: Message, profile: Dict[str, Any], retry: bool = False) -> List[Message]:
        """Get the assistant's replies to a stored message and deliver them. If the assistant
        is down the message stays pending for the retry loop, and the customer gets one apology
        (the first time only: not on a ``retry``). Returns the stored replies (none on failure)."""
        conversation_id = inbound.conversation_id
        if inbound.id in self._in_flight:  # the retry loop and a channel's task may both get to it
            return []
        self._in_flight.add(inbound.id)
        # The retry loop read the message as pending a moment ago; another task may have answered
        # it since (its replies are stored before it leaves _in_flight): answer once only.
        if retry and not await self.db(self.store.still_pending, inbound.id):
            self._in_flight.discard(inbound.id)
            return []
        await self.hub.publish(conversation_id, {"type": "typing", "on": True})
        stored: List[Message] = []
        handoff = None
        try:
            conversation = await self.db(self.store.conversation, conversation_id)
            # The stored message's id and time: actions key side effects on them (a retried
            # message files one complaint) and count deadlines from the real receipt.
            metadata = {
                "customer": profile, "channel": conversation.channel, "language": conversation.language,
                "message": {"id": inbound.id, "received_at": message_dict(inbound)["created_at"]},
            }
            try:
                started = time.monotonic()
                answer = await self.rasa.send(conversation_id, inbound.text, metadata)
                stored = await self.db(self.store.store_replies, inbound, answer.replies, understanding=answer.understanding)
                metrics.ASSISTANT_REPLY_SECONDS.labels(conversation.channel).observe(time.monotonic() - started)
                handoff = answer.handoff
            except AssistantUnavailable as error:
                logger.warning("assistant unavailable for message %s: %s", inbound.id, error)
                if not retry:
                    language = reply_language(inbound.text, conversation.language)
                    apology = [{"text": knowledge.message("assistant_unavailable", language)}]
                    stored = await self.db(self.store.store_replies, inbound, apology, sender="system", answered=False)
        finally:
            self._in_flight.discard(inbound.id)
            await self.hub.publish(conversation_id, {"type": "typing", "on": False})
        for message in stored:
            await self.deliver(message)
        if handoff:
            language = reply_language(inbound.text, conversation.language)
            await self.handoffs.hand_over(conversation, profile, handoff, language)
        return stored

    async def prompt_assistant(self, conversation: Conversation, payload: str, profile: Dict[str, Any], language: str) -> None:
        """Have the assistant speak without a customer message (``payload`` is an intent such
        as ``/EXTERNAL_survey``); its replies are stored and delivered like any other. If the
        assistant is down, nothing is said."""
        metadata = {"customer": profile, "channel": conversation.channel, "language": language}
        try:
            answer = await self.rasa.send(conversation.id, payload, metadata)
        except AssistantUnavailable as error:
            logger.warning("assistant unavailable for %s in %s: %s", payload, conversation.id, error)
            return
        for reply in answer.replies:
            message = await self.db(self.store.store_outbound, conversation.id, reply["text"], "bot",
                                    reply.get("buttons"), reply.get("disclosure"), reply.get("action"))
            await self.deliver(message)

    async def say(self, conversation_id: str, text: str, sender: str) -> None:
        """Store and deliver a message to the customer that answers nothing in particular."""
        message = await self.db(self.store.store_outbound, conversation_id, text, sender)
        await self.deliver(message)

    async def deliver(self, message: Message) -> None:
        """Deliver a stored message to the customer: to every open widget or app socket of the
        conversation, and to the channels that send on their own (Telegram): each is told a
        message is waiting and sends what it has not sent yet, from the database."""
        await self.hub.publish(message.conversation_id, {"type": "message", "message": message_dict(message)})
        for outbound_waiting in self.outbound_listeners:
            outbound_waiting(message)

    async def retry_pending(self) -> None:
        """Answer messages stored while the assistant was down, oldest first."""
        for inbound in await self.db(self.store.pending_inbound):
            if inbound.id in self._in_flight:
                continue
            conversation = await self.db(self.store.conversation, inbound.conversation_id)
            customer = await self.db(self.store.customer, conversation.customer_id) if conversation.customer_id else None
            if not await self.answer(inbound, profile_of(customer), retry=True):
                return  # still down; try again later

    async def retry_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.retry_interval)
            try:
                await self.retry_pending()
            except Exception:
                logger.exception("retrying pending messages failed")


def csv_attachment(body: str, filename: str) -> HTTPResponse:
    """A CSV download that spreadsheets open correctly: UTF-8 with a byte-order mark (without it
    Excel reads the file in the system's code page and garbles Chinese), as an attachment, never
    cached or sniffed. ``filename`` must be safe in a header (callers build it from known parts)."""
    return text("\ufeff" + body, content_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store",
                         "X-Content-Type-Options": "nosniff"})


def _json_body(request: Request) -> Dict[str, Any]:
    try:
        body = json.loads(request.body.decode("utf-8")) if request.body else {}
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_request", "The body is not valid UTF-8.") from None
    except json.JSONDecodeError:
        raise ApiError(400, "invalid_request", "The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "The body must be a JSON object.")
    return body


def create_app(settings: Optional[Settings] = None) -> Sanic:
    settings = settings or Settings()
    app = Sanic(f"evergreen_contact_{next(_app_numbers)}")
    app.config.REQUEST_MAX_SIZE = 64 * 1024
    app.config.WEBSOCKET_MAX_SIZE = 64 * 1024
    service = ContactService(settings)
    app.ctx.service = service
    origins = "*" if settings.allowed_origins.strip() == "*" else [o.strip() for o in settings.allowed_origins.split(",")]
    CORS(app, resources={r"/api/*": {"origins": origins}}, automatic_options=True, expose_headers=["Retry-After"])

    @app.before_server_start
    async def start(app, _loop):
        await service.db(migrate, service.engine)
        if settings.demo:
            with service.store.sessions() as session:
                customers.upsert(session, customers.read_export(customers.DEMO_CUSTOMERS))
        await service.rasa.start()
        app.ctx.retry_task = asyncio.get_running_loop().create_task(service.retry_forever())
        app.ctx.overdue_task = asyncio.get_running_loop().create_task(overdue.watch(service.store.sessions, settings.overdue_interval))

    @app.after_server_stop
    async def stop(app, _loop):
        app.ctx.retry_task.cancel()
        app.ctx.overdue_task.cancel()
        await service.rasa.close()
        service.engine.dispose()

    @app.exception(ApiError)
    async def api_error(request, error: ApiError):
        return json_response({"error": {"code": error.code, "message": str(error)}}, status=error.status_code, headers=error.headers)

    @app.exception(OperationalError)
    async def database_down(request, error: OperationalError):
        # Nothing was stored, so the client keeps the message and sends it again (same id).
        logger.error("database unavailable: %s", type(error.orig).__name__ if error.orig else error)
        return json_response(
            {"error": {"code": "unavailable", "message": "We can't take messages for a moment. Your message was not lost: please send it again shortly."}},
            status=503, headers={"Retry-After": "10"},
        )

    async def authenticate(token: Optional[str]) -> Caller:
        if not token:
            raise ApiError(401, "unauthorized", "A session token is required.")
        try:
            session = identity.read_session_token(token, settings.session_secret)
        except identity.InvalidToken:
            raise ApiError(401, "unauthorized", "The session has expired or is invalid; start a new session.") from None
        customer = await service.db(service.store.customer, session.customer_id) if session.customer_id else None
        return Caller(session, profile_of(customer))

    def bearer(request: Request) -> Optional[str]:
        header = request.headers.get("authorization", "")
        return header[7:].strip() if header.lower().startswith("bearer ") else None

    sessions_per_address = RateLimiter(settings.rate_limit_sessions, settings.rate_limit_window)

    @app.post("/api/v1/sessions")
    async def start_session(request: Request) -> HTTPResponse:
        wait = sessions_per_address.retry_after(request.ip)
        if wait:
            raise ApiError(429, "rate_limited", "Too many new sessions; please wait a moment.", {"Retry-After": str(int(wait) + 1)})
        body = _json_body(request)
        language = body.get("language") if body.get("language") in ("zh", "en") else None
        customer, visitor_id, visitor_token = None, None, None
        if body.get("identity_token"):
            try:
                customer_id = identity.verify_identity_token(str(body["identity_token"]), settings.customer_token_secret)
            except identity.InvalidToken:
                raise ApiError(401, "invalid_identity", "The identity token is invalid or has expired.") from None
            customer = await service.db(service.store.customer, customer_id)
            if customer is None:
                raise ApiError(401, "invalid_identity", "The identity token names no known customer.")
        else:
            try:
                visitor_id = identity.read_visitor_token(str(body.get("visitor_token") or ""), settings.session_secret)
            except identity.InvalidToken:
                visitor_id = identity.new_visitor_id()
            visitor_token = identity.issue_visitor_token(visitor_id, settings.session_secret)
        session = identity.Session(identity.conversation_id_for(customer and customer.id, visitor_id), customer and customer.id, visitor_id)
        channel = "app" if body.get("channel") == "app" else "web"
        conversation = await service.db(
            service.store.open_conversation, session.conversation_id, session.customer_id, channel,
            language or (customer.language if customer else None),
        )
        profile = profile_of(customer)
        answer = {
            "session_token": identity.issue_session_token(session, settings.session_secret),
            "conversation_id": session.conversation_id,
            "customer": {
                "verified": profile["verified"], "tier": profile["tier"], "name": profile.get("name"),
                "language": conversation.language or "zh",
            },
        }
        if visitor_token:
            answer["visitor_token"] = visitor_token
        if customer and settings.telegram_bot_token and settings.telegram_bot_username:  # the widget offers linking
            answer["telegram"] = {"bot": settings.telegram_bot_username.lstrip("@")}
        return json_response(answer)

    @app.post("/api/v1/messages")
    async def post_message(request: Request) -> HTTPResponse:
        caller = await authenticate(bearer(request))
        return json_response(await service.receive(caller, _json_body(request), caller.session.conversation_id))

    @app.get("/api/v1/messages")
    async def get_messages(request: Request) -> HTTPResponse:
        caller = await authenticate(bearer(request))
        try:
            after = int(request.args.get("after", 0))
        except ValueError:
            raise ApiError(400, "invalid_request", "after must be a message id.") from None
        messages = await service.db(service.store.history, caller.session.conversation_id, after)
        return json_response({"messages": [message_dict(m) for m in messages]})

    @app.websocket("/api/v1/ws")
    async def socket(request: Request, ws) -> None:
        try:
            caller = await authenticate(request.args.get("token"))
        except ApiError as error:
            await ws.send(json.dumps({"type": "error", "error": {"code": error.code, "message": str(error)}}))
            await ws.close()
            return
        conversation_id = caller.session.conversation_id
        service.hub.sockets[conversation_id].add(ws)
        # Typing frames are a courtesy: a few a second per socket at most (a widget sends one
        # every few seconds), the rest dropped without a word; they never count as messages.
        typing_frames = RateLimiter(TYPING_FRAMES, TYPING_WINDOW)
        try:
            while True:  # recv() raises ConnectionClosed when the client goes away
                raw = await ws.recv()
                try:
                    frame = json.loads(raw)
                    if isinstance(frame, dict) and frame.get("type") == "typing" and isinstance(frame.get("on"), bool):
                        if not typing_frames.retry_after("typing"):
                            await service.handoffs.customer_typing(conversation_id, frame["on"])
                        continue
                    if not isinstance(frame, dict) or frame.get("type") != "message":
                        raise ApiError(400, "invalid_request", "Send {\"type\": \"message\", \"text\", \"client_message_id\"} "
                                                               "or {\"type\": \"typing\", \"on\": true|false}.")
                    await service.receive(caller, frame, conversation_id)
                except json.JSONDecodeError:
                    await ws.send(json.dumps({"type": "error", "error": {"code": "invalid_request", "message": "Frames must be JSON."}}))
                except ApiError as error:
                    await ws.send(json.dumps({"type": "error", "error": {"code": error.code, "message": str(error)}}))
        finally:
            service.hub.sockets[conversation_id].discard(ws)

    @app.post("/api/v1/link-codes")
    async def link_code(request: Request) -> HTTPResponse:
        """A one-time code that links a messaging account (Telegram) to this verified customer."""
        caller = await authenticate(bearer(request))
        if not caller.session.customer_id:
            raise ApiError(403, "not_verified", "Only a logged-in customer can link a messaging account.")
        code, expires = await service.db(service.link_codes.issue, caller.session.customer_id, service_hours.now())
        answer = {"code": code, "expires_at": expires.isoformat(timespec="seconds")}
        if settings.telegram_bot_token and settings.telegram_bot_username:  # the deep link sends "/start <code>"
            answer["telegram_url"] = f"https://t.me/{settings.telegram_bot_username.lstrip('@')}?start={code}"
        return json_response(answer)

    @app.get("/api/v1/openapi.yaml")
    async def openapi(request: Request) -> HTTPResponse:
        return await file(OPENAPI, mime_type="application/yaml")

    @app.get("/health")
    async def health(request: Request) -> HTTPResponse:
        return json_response({"status": "ok", "rasa": await service.rasa.alive()})

    app.static("/static", str(WEB_STATIC))

    @app.get("/")
    async def demo_page(request: Request) -> HTTPResponse:
        if not settings.demo:
            raise ApiError(404, "not_found", "No demo page in production mode.")
        return await file(WEB_STATIC / "demo.html")

    @app.get("/demo/identity-token")
    async def demo_identity_token(request: Request) -> HTTPResponse:
        """Stands in for the firm's website backend, which signs identity tokens (demo only)."""
        if not settings.demo:
            raise ApiError(404, "not_found", "Identity tokens are signed by the firm's backend in production.")
        customer_id = request.args.get("customer_id", "")
        if not await service.db(service.store.customer, customer_id):
            raise ApiError(404, "not_found", "No such demo customer.")
        return json_response({"identity_token": identity.sign_identity_token(customer_id, settings.customer_token_secret)})

    # Imported here, not at the top: they import this module.
    from bot.console import agents, auth, pages
    from bot.contact import staff_api

    app.blueprint(staff_api.blueprint(service))  # after `start`, which migrates before it seeds
    app.blueprint(auth.blueprint(service))  # docs/console.md
    app.blueprint(agents.blueprint(service))
    app.blueprint(pages.blueprint(service))  # the console's web pages
    from bot.console import review
    app.blueprint(review.blueprint(service))  # supervisors' review of misunderstood messages, early warnings
    from bot.console import quality
    app.blueprint(quality.blueprint(service))  # the supervisors' quality dashboard
    from channels.telegram.webhook import install as install_telegram
    install_telegram(app, service)  # the Telegram channel, when TELEGRAM_BOT_TOKEN is set
    from channels.email.channel import install as install_email
    install_email(app, service)  # the service mailbox, when EMAIL_IMAP_HOST or EMAIL_SMTP_HOST is set
    metrics.install(app, service)  # GET /metrics (loopback, or METRICS_TOKEN), HTTP latency per route
    return app
