"""The contact service's HTTP and WebSocket API (docs/contact-api.md), the demo website and
the widget's static files.

Run it with ``python -m bot.contact`` (``make run`` does, beside Rasa and the action server).
"""

from __future__ import annotations

import asyncio
import hmac
import itertools
import json
import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set, Tuple

from sanic import Sanic
from sanic_cors import CORS
from sqlalchemy.exc import OperationalError
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse, file, json as json_response, text

from bot import knowledge, metrics, service_hours
from bot.complaints import overdue
from bot.contact import customers, identity, inputs, security_headers
from bot.contact.client_address import client_address
from bot.contact.customers import profile_of
from bot.contact.db import make_engine, migrate, session_factory
from bot.contact.link_codes import LinkCodes
from bot.contact.models import Conversation, Message
from bot.contact.rasa_client import AnswerFailed, AssistantUnavailable, RasaClient
from bot.contact.ratelimit import ConnectionCap, RateLimiter
from bot.contact.settings import ROOT, Settings
from bot.contact.store import ConversationStore, message_dict
from bot.contact.vault import Vault
from bot.handoff.router import HandoffRouter
from bot.language import SUPPORTED, reply_language
from bot.privacy import mask_sensitive

logger = logging.getLogger(__name__)
WEB_STATIC = ROOT / "channels" / "web" / "static"
OPENAPI = Path(__file__).parent / "openapi.yaml"
_app_numbers = itertools.count(1)
HTTP_ERROR_CODES = {404: "not_found", 405: "method_not_allowed", 413: "too_large", 503: "unavailable"}
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

    def leave(self, conversation_id: str, socket: Any) -> None:
        """A socket closed; a conversation without open sockets is forgotten."""
        sockets = self.sockets.get(conversation_id)
        if sockets is not None:
            sockets.discard(socket)
            if not sockets:
                del self.sockets[conversation_id]


def message_language(inbound: Message, conversation: Conversation) -> str:
    """The language to tell the customer something about ``inbound`` in: the message's own, or
    the conversation's for a message without one (a tapped button, "ok")."""
    return reply_language(None if inbound.payload is not None else inbound.text, conversation.language)


class ContactService:
    """Receives customer messages, stores them, gets the assistant's replies, delivers them."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.engine = make_engine(settings.database_url)
        self.store = ConversationStore(session_factory(self.engine))
        self.vault = Vault(settings.personal_data_key)
        self.link_codes = LinkCodes(self.store.sessions)
        self.rasa = RasaClient(settings.rasa_url, settings.rasa_timeout, settings.rasa_token, settings.actions_url)
        self.hub = ConversationHub()
        self.limiter = RateLimiter(settings.rate_limit_messages, settings.rate_limit_window)
        self._in_flight: Set[int] = set()
        self.handoffs = HandoffRouter(self)
        self.outbound_listeners: List[Callable[[Message], None]] = []  # channels told of each outbound message
        # per channel, what the console shows beside a conversation (the email channel's ticket)
        self.channel_details: Dict[str, Callable[[str], Awaitable[Optional[Dict[str, Any]]]]] = {}

    async def db(self, function, *args, **kwargs):
        return await asyncio.to_thread(function, *args, **kwargs)

    def origin(self, where: str) -> str:
        """A keyed hash of where a message came from (``ip:<address>``, ``telegram:<user id>``):
        abuse limits count by it without the address itself being stored."""
        return hmac.new(self.settings.session_secret.encode(), where.encode(), "sha256").hexdigest()[:32]

    async def receive(self, caller: Caller, body: Dict[str, Any], client_key: str, origin: Optional[str] = None) -> Dict[str, Any]:
        """A customer message, typed (``text``) or a tapped button (``button``: the message id and
        index of a button this service sent in the conversation): validate, store, answer.
        Returns the API answer."""
        text, client_message_id, button = body.get("text"), body.get("client_message_id"), body.get("button")
        if not isinstance(client_message_id, str) or (button is None) == (text is None):
            raise ApiError(400, "invalid_request", "Send {\"text\": string, \"client_message_id\": string} or "
                                                   "{\"button\": {\"message_id\", \"index\"}, \"client_message_id\"}.")
        if not 1 <= len(client_message_id) <= 64:
            raise ApiError(400, "invalid_request", "client_message_id must be 1–64 characters.")
        conversation_id = caller.session.conversation_id
        payload = None
        if button is not None:
            text, payload = await self._tapped(conversation_id, button)
        if not isinstance(text, str):
            raise ApiError(400, "invalid_request", "text must be a string.")
        text = text.strip()
        if not text:
            raise ApiError(422, "empty_message", "The message is empty.")
        if len(text) > self.settings.max_message_chars:
            raise ApiError(413, "message_too_long", f"Messages are limited to {self.settings.max_message_chars} characters.")
        wait = self.limiter.retry_after(client_key)
        if wait:
            raise ApiError(429, "rate_limited", "Too many messages; please wait a moment.", {"Retry-After": str(int(wait) + 1)})
        inbound, duplicate = await self.db(
            self.store.store_inbound, conversation_id, client_message_id, mask_sensitive(text),
            self.vault.seal(conversation_id, text), payload=payload, origin=origin,
        )
        if duplicate:
            replies = await self.db(self.store.replies_to, inbound.id)
            return {"message": message_dict(inbound), "replies": [message_dict(r) for r in replies], "duplicate": True}
        replies = await self.handle_inbound(inbound, caller.profile)
        return {"message": message_dict(inbound), "replies": [message_dict(r) for r in replies], "duplicate": False}

    async def _tapped(self, conversation_id: str, button: Any) -> Tuple[str, str]:
        """The title and payload of a button this service sent in the conversation; 400 for any
        other (a customer cannot make up a payload: only what the assistant offered reaches it)."""
        message_id, index = (button.get("message_id"), button.get("index")) if isinstance(button, dict) else (None, None)
        if not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 2 ** 31 for n in (message_id, index)):
            raise ApiError(400, "invalid_request", "button must be {\"message_id\": integer, \"index\": integer}.")
        found = await self.db(self.store.button, conversation_id, message_id, index)
        if found is None:
            raise ApiError(400, "unknown_button", "That button was not offered in this conversation.")
        return found.title, found.payload

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
        """Get the assistant's replies to a stored message and deliver them. Returns the stored
        replies (none on failure).

        If the assistant fails, the message stays pending for the retry loop and the customer gets
        one apology (the first time only: not on a ``retry``). A failure of this very message (the
        assistant is up: AnswerFailed) is counted; the retry loop waits longer after each, and the
        last allowed one parks the message with a notice to the customer, so one message the
        assistant cannot answer never holds up the others. On a ``retry`` an outage is raised
        (AssistantUnavailable): the loop stops until the assistant is back."""
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
        handoff = outage = None
        try:
            conversation = await self.db(self.store.conversation, conversation_id)
            # The stored message's id and time: actions key side effects on them (a retried
            # message files one complaint) and count deadlines from the real receipt; its origin
            # (a keyed hash of the client address) for the urgent-complaint limit.
            # A tapped button is marked: its payload ("chat", "Shanghai") is no sign of a language.
            metadata = {
                "customer": profile, "channel": conversation.channel, "language": conversation.language,
                "message": {"id": inbound.id, "received_at": message_dict(inbound)["created_at"], "origin": inbound.origin,
                            "button": inbound.payload is not None},
            }
            try:
                started = time.monotonic()
                answer = await self.rasa.send(conversation_id, inbound.text, metadata, payload=inbound.payload)
                stored = await self.db(self.store.store_replies, inbound, answer.replies, understanding=answer.understanding)
                metrics.ASSISTANT_REPLY_SECONDS.labels(conversation.channel).observe(time.monotonic() - started)
                handoff = answer.handoff
                replied_in = (answer.understanding or {}).get("language")
                if replied_in in SUPPORTED and replied_in != conversation.language:  # the conversation's language follows the assistant's
                    await self.db(self.store.set_language, conversation_id, replied_in)
                    conversation.language = replied_in
            except AssistantUnavailable as error:
                logger.warning("assistant %s for message %s: %s", "failed" if isinstance(error, AnswerFailed) else "unavailable",
                               inbound.id, error)
                outage = None if isinstance(error, AnswerFailed) else error
                stored = await self._answer_failed(inbound, conversation, retry, outage is None)
        finally:
            self._in_flight.discard(inbound.id)
            await self.hub.publish(conversation_id, {"type": "typing", "on": False})
        for message in stored:
            await self.deliver(message)
        if retry and outage is not None:
            raise outage
        if handoff:
            await self.handoffs.hand_over(conversation, profile, handoff, message_language(inbound, conversation))
        return stored

    async def _answer_failed(self, inbound: Message, conversation: Conversation, retry: bool, counted: bool) -> List[Message]:
        """What the customer is told when the assistant did not answer ``inbound``: an apology the
        first time; when the failure is ``counted`` against the message (module AnswerFailed) and it
        was the last allowed, the notice that it was parked."""
        language = message_language(inbound, conversation)
        told: List[Message] = []
        if not retry:
            apology = [{"text": knowledge.message("assistant_unavailable", language)}]
            told = await self.db(self.store.store_replies, inbound, apology, sender="system", answered=False)
        if counted:
            notice = knowledge.message("assistant_gave_up", language)
            parked = await self.db(self.store.record_failure, inbound, datetime.now(timezone.utc),
                                   timedelta(seconds=self.settings.retry_interval), self.settings.max_answer_attempts, notice)
            if parked is not None:
                logger.error("message %s parked after %d failed answers", inbound.id, self.settings.max_answer_attempts)
                told.append(parked)
        return told

    async def prompt_assistant(self, conversation: Conversation, payload: str, profile: Dict[str, Any], language: str) -> None:
        """Have the assistant speak without a customer message (``payload`` is an intent such
        as ``/EXTERNAL_survey``); its replies are stored and delivered like any other. If the
        assistant is down, nothing is said."""
        metadata = {"customer": profile, "channel": conversation.channel, "language": language}
        try:
            answer = await self.rasa.send(conversation.id, "", metadata, payload=payload)
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
        """Answer the messages still pending, oldest first: those stored while the assistant was
        down, and those it failed on whose wait is over. An outage ends the pass (tried again
        later); a message that fails again waits longer and the others go on."""
        for inbound in await self.db(self.store.pending_inbound, datetime.now(timezone.utc)):
            if inbound.id in self._in_flight:
                continue
            conversation = await self.db(self.store.conversation, inbound.conversation_id)
            customer = await self.db(self.store.customer, conversation.customer_id) if conversation.customer_id else None
            try:
                await self.answer(inbound, profile_of(customer), retry=True)
            except AssistantUnavailable:
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
    """The request's JSON object, read by the rules of bot/contact/inputs.py ({} for no body)."""
    return inputs.json_object(request.body) if request.body else {}


def _session_body(request: Request) -> Dict[str, Any]:
    """The body of ``POST /api/v1/sessions``, refused (400) where it breaks the OpenAPI document;
    a field that is null counts as absent."""
    body = _json_body(request)
    for name, allowed in (("language", ("zh", "en")), ("channel", ("web", "app"))):
        if body.get(name) is not None and body[name] not in allowed:
            raise ApiError(400, "invalid_request", f"{name} must be one of {', '.join(allowed)}.")
    for name in ("identity_token", "visitor_token"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise ApiError(400, "invalid_request", f"{name} must be a string.")
    return body


def create_app(settings: Optional[Settings] = None) -> Sanic:
    settings = settings or Settings()
    app = Sanic(f"evergreen_contact_{next(_app_numbers)}")
    app.config.REQUEST_MAX_SIZE = inputs.MAX_BODY_BYTES
    app.config.WEBSOCKET_MAX_SIZE = inputs.MAX_BODY_BYTES
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

    @app.exception(inputs.InvalidInput)
    async def invalid_input(request, error: inputs.InvalidInput):
        return json_response({"error": {"code": "invalid_request", "message": str(error)}}, status=400)

    @app.exception(SanicException)
    async def http_error(request, error: SanicException):
        """Sanic's own refusals (no such route, wrong method, body over 64 KB...) in the API's error body."""
        if error.status_code >= 500:
            logger.error("%s %s: %s", request.method, request.path, error, exc_info=error)
        code = HTTP_ERROR_CODES.get(error.status_code, "invalid_request" if error.status_code < 500 else "unavailable")
        return json_response({"error": {"code": code, "message": str(error)}}, status=error.status_code,
                             headers=getattr(error, "headers", None))

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

    def address(request: Request) -> str:
        """The client's address, also behind a trusted reverse proxy (TRUSTED_PROXIES)."""
        return client_address(request, settings.trusted_proxies)

    sessions_per_address = RateLimiter(settings.rate_limit_sessions, settings.rate_limit_window)
    sockets_per_address = ConnectionCap(settings.sockets_per_address)

    identity_tokens = identity.IdentityVerifier.from_settings(settings)  # IdentityKeyError: an unusable key file

    @app.post("/api/v1/sessions")
    async def start_session(request: Request) -> HTTPResponse:
        wait = sessions_per_address.retry_after(address(request))
        if wait:
            raise ApiError(429, "rate_limited", "Too many new sessions; please wait a moment.", {"Retry-After": str(int(wait) + 1)})
        body = _session_body(request)
        language = body.get("language") if body.get("language") in ("zh", "en") else None
        customer, visitor_id, visitor_token = None, None, None
        if body.get("identity_token"):
            try:
                customer_id = identity_tokens.verify(str(body["identity_token"]))
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
        return json_response(await service.receive(caller, _json_body(request), caller.session.conversation_id,
                                                   service.origin(f"ip:{address(request)}")))

    @app.get("/api/v1/messages")
    async def get_messages(request: Request) -> HTTPResponse:
        caller = await authenticate(bearer(request))
        after = inputs.whole_number(request.args.get("after"), "after", 0, 0, inputs.MAX_ID)
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
        client = address(request)
        if not sockets_per_address.open(client):
            await ws.send(json.dumps({"type": "error", "error": {
                "code": "too_many_connections",
                "message": f"At most {settings.sockets_per_address} chat connections per network; close another chat window."}}))
            await ws.close(1013, "too many connections")  # 1013: try again later
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
                    frame = inputs.json_object(raw, what="The frame")
                    if frame.get("type") == "typing" and isinstance(frame.get("on"), bool):
                        if not typing_frames.retry_after("typing"):
                            await service.handoffs.customer_typing(conversation_id, frame["on"])
                        continue
                    if frame.get("type") != "message":
                        raise ApiError(400, "invalid_request", "Send {\"type\": \"message\", \"text\", \"client_message_id\"} "
                                                               "or {\"type\": \"typing\", \"on\": true|false}.")
                    await service.receive(caller, frame, conversation_id, service.origin(f"ip:{client}"))
                except inputs.InvalidInput as error:
                    await ws.send(json.dumps({"type": "error", "error": {"code": "invalid_request", "message": str(error)}}))
                except ApiError as error:
                    await ws.send(json.dumps({"type": "error", "error": {"code": error.code, "message": str(error)}}))
        finally:
            service.hub.leave(conversation_id, ws)
            sockets_per_address.closed(client)

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

    @app.middleware("response")
    async def static_file_headers(request: Request, response: HTTPResponse) -> None:
        if request.path.startswith("/static/"):  # the widget's files, loaded by the firm's sites
            response.headers.update(security_headers.EMBEDDED_FILES)

    @app.get("/")
    async def demo_page(request: Request) -> HTTPResponse:
        if not settings.demo:
            raise ApiError(404, "not_found", "No demo page in production mode.")
        return await file(WEB_STATIC / "demo.html", headers=security_headers.pages())

    if settings.demo:  # in production the route does not exist
        @app.get("/demo/identity-token")
        async def demo_identity_token(request: Request) -> HTTPResponse:
            """Stands in for the firm's website backend for the demo customers only: any other id,
            imported or unknown, gets the same 404 (bot/contact/identity.py)."""
            token = identity_tokens.sign_for_demo(request.args.get("customer_id", ""))
            if token is None:
                raise ApiError(404, "not_found", "No such demo customer.")
            return json_response({"identity_token": token})

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
