"""The customer API (docs/contact-api.md): sessions, messages over HTTP and WebSocket, link
codes, the OpenAPI document, the health check and the demo site. Each handler reads the channel
(channels/web/channel.py) from ``request.app.ctx.web``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse, file, json as json_response

from bot import service_hours
from bot.core.conversations import Conversations
from bot.core.customers import profile_of
from bot.core.ratelimit import RateLimiter
from bot.core.store import message_dict
from bot.http import inputs, routes, security_headers
from bot.http.client_address import request_address
from bot.http.errors import ApiError, json_body
from channels.web import identity

OPENAPI = Path(__file__).parent / "openapi.yaml"
DEMO_PAGE = Path(__file__).parent / "static" / "demo.html"
TYPING_FRAMES, TYPING_WINDOW = 5, 1.0  # at most 5 typing frames a second per customer socket are passed on


@dataclass
class Caller:
    """The session behind a request, with the customer profile it is for (if verified)."""

    session: identity.Session
    profile: Dict[str, Any]


def channel_of(request: Request):
    return request.app.ctx.web


def conversations_of(request: Request) -> Conversations:
    return request.app.ctx.web.host.conversations


async def authenticate(request: Request, token: Optional[str]) -> Caller:
    if not token:
        raise ApiError(401, "unauthorized", "A session token is required.")
    conversations = conversations_of(request)
    try:
        session = identity.read_session_token(token, conversations.settings.session_secret)
    except identity.InvalidToken:
        raise ApiError(401, "unauthorized", "The session has expired or is invalid; start a new session.") from None
    customer = await conversations.db(conversations.store.customer, session.customer_id) if session.customer_id else None
    return Caller(session, profile_of(customer))


def bearer(request: Request) -> Optional[str]:
    header = request.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


def session_body(request: Request) -> Dict[str, Any]:
    """The body of ``POST /api/v1/sessions``, refused (400) where it breaks the OpenAPI document;
    a field that is null counts as absent."""
    body = json_body(request)
    for name, allowed in (("language", ("zh", "en")), ("channel", ("web", "app"))):
        if body.get(name) is not None and body[name] not in allowed:
            raise ApiError(400, "invalid_request", f"{name} must be one of {', '.join(allowed)}.")
    for name in ("identity_token", "visitor_token"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise ApiError(400, "invalid_request", f"{name} must be a string.")
    return body


async def receive(conversations: Conversations, caller: Caller, body: Dict[str, Any], client_key: str,
                  origin: Optional[str] = None) -> Dict[str, Any]:
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
        text, payload = await tapped(conversations, conversation_id, button)
    if not isinstance(text, str):
        raise ApiError(400, "invalid_request", "text must be a string.")
    text = text.strip()
    if not text:
        raise ApiError(422, "empty_message", "The message is empty.")
    limit = conversations.settings.max_message_chars
    if len(text) > limit:
        raise ApiError(413, "message_too_long", f"Messages are limited to {limit} characters.")
    wait = await conversations.limiter.retry_after(client_key)
    if wait:
        raise ApiError(429, "rate_limited", "Too many messages; please wait a moment.", {"Retry-After": str(int(wait) + 1)})
    accepted = await conversations.accept_inbound(conversation_id, text, client_message_id, payload=payload, origin=origin)
    inbound = accepted.message
    if accepted.duplicate:
        replies = await conversations.db(conversations.store.replies_to, inbound.id)
    else:
        replies = await conversations.handle_inbound(inbound, caller.profile)
    return {"message": message_dict(inbound), "replies": [message_dict(r) for r in replies], "duplicate": accepted.duplicate}


async def tapped(conversations: Conversations, conversation_id: str, button: Any) -> Tuple[str, str]:
    """The title and payload of a button this service sent in the conversation; 400 for any
    other (a customer cannot make up a payload: only what the assistant offered reaches it)."""
    message_id, index = (button.get("message_id"), button.get("index")) if isinstance(button, dict) else (None, None)
    if not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 2 ** 31 for n in (message_id, index)):
        raise ApiError(400, "invalid_request", "button must be {\"message_id\": integer, \"index\": integer}.")
    found = await conversations.db(conversations.store.button, conversation_id, message_id, index)
    if found is None:
        raise ApiError(400, "unknown_button", "That button was not offered in this conversation.")
    return found.title, found.payload


def link_offers(conversations: Conversations) -> Dict[str, Dict[str, str]]:
    """Channels a verified customer may link to their account (Telegram), by name: what the widget offers."""
    offers = {}
    for channel in conversations.channels:
        offer = channel.link_offer()
        if offer:
            offers[channel.name] = offer
    return offers


async def start_session(request: Request) -> HTTPResponse:
    web, conversations = channel_of(request), conversations_of(request)
    settings = conversations.settings
    wait = await web.sessions_per_address.retry_after(request_address(request))
    if wait:
        raise ApiError(429, "rate_limited", "Too many new sessions; please wait a moment.", {"Retry-After": str(int(wait) + 1)})
    body = session_body(request)
    language = body.get("language") if body.get("language") in ("zh", "en") else None
    customer, visitor_id, visitor_token = None, None, None
    if body.get("identity_token"):
        try:
            customer_id = web.identity_tokens.verify(str(body["identity_token"]))
        except identity.InvalidToken:
            raise ApiError(401, "invalid_identity", "The identity token is invalid or has expired.") from None
        customer = await conversations.db(conversations.store.customer, customer_id)
        if customer is None:
            raise ApiError(401, "invalid_identity", "The identity token names no known customer.")
    else:
        try:
            visitor_id = identity.read_visitor_token(str(body.get("visitor_token") or ""), settings.session_secret)
        except identity.InvalidToken:
            visitor_id = identity.new_visitor_id()
        visitor_token = identity.issue_visitor_token(visitor_id, settings.session_secret)
    session = identity.Session(identity.conversation_id_for(customer and customer.id, visitor_id), customer and customer.id, visitor_id)
    kind = "app" if body.get("channel") == "app" else "web"
    conversation = await conversations.db(
        conversations.store.open_conversation, session.conversation_id, session.customer_id, kind,
        language or (customer.language if customer else None),
    )
    profile = profile_of(customer)
    answer = {
        "session_token": identity.issue_session_token(session, settings.session_secret),
        "conversation_id": session.conversation_id,
        "customer": {"verified": profile["verified"], "tier": profile["tier"], "name": profile.get("name"),
                     "language": conversation.language or "zh"},
    }
    if visitor_token:
        answer["visitor_token"] = visitor_token
    if customer:  # the widget offers linking
        answer.update(link_offers(conversations))
    return json_response(answer)


async def post_message(request: Request) -> HTTPResponse:
    caller = await authenticate(request, bearer(request))
    conversations = conversations_of(request)
    origin = conversations.origin(f"ip:{request_address(request)}")
    return json_response(await receive(conversations, caller, json_body(request), caller.session.conversation_id, origin))


async def get_messages(request: Request) -> HTTPResponse:
    caller = await authenticate(request, bearer(request))
    conversations = conversations_of(request)
    after = inputs.whole_number(request.args.get("after"), "after", 0, 0, inputs.MAX_ID)
    messages = await conversations.db(conversations.store.history, caller.session.conversation_id, after)
    return json_response({"messages": [message_dict(m) for m in messages]})


async def send_error(ws, code: str, message: str) -> None:
    await ws.send(json.dumps({"type": "error", "error": {"code": code, "message": message}}))


async def socket(request: Request, ws) -> None:
    web, conversations = channel_of(request), conversations_of(request)
    try:
        caller = await authenticate(request, request.args.get("token"))
    except ApiError as error:
        await send_error(ws, error.code, str(error))
        await ws.close()
        return
    client = request_address(request)
    if not web.sockets_per_address.open(client):
        await send_error(ws, "too_many_connections", f"At most {web.host.settings.sockets_per_address} chat "
                                                     "connections per network; close another chat window.")
        await ws.close(1013, "too many connections")  # 1013: try again later
        return
    conversation_id = caller.session.conversation_id
    web.hub.sockets[conversation_id].add(ws)
    try:
        await converse(conversations, caller, ws, conversations.origin(f"ip:{client}"))
    finally:
        web.hub.leave(conversation_id, ws)
        web.sockets_per_address.closed(client)


async def converse(conversations: Conversations, caller: Caller, ws, origin: str) -> None:
    """Read the socket's frames until the client goes away (recv() raises ConnectionClosed).
    Typing frames are a courtesy: a few a second per socket at most (a widget sends one every
    few seconds), the rest dropped without a word; they never count as messages."""
    conversation_id = caller.session.conversation_id
    typing_frames = RateLimiter(TYPING_FRAMES, TYPING_WINDOW)
    while True:
        raw = await ws.recv()
        try:
            frame = inputs.json_object(raw, what="The frame")
            if frame.get("type") == "typing" and isinstance(frame.get("on"), bool):
                if not typing_frames.retry_after("typing"):
                    await conversations.handoffs.customer_typing(conversation_id, frame["on"])
                continue
            if frame.get("type") != "message":
                raise ApiError(400, "invalid_request", "Send {\"type\": \"message\", \"text\", \"client_message_id\"} "
                                                       "or {\"type\": \"typing\", \"on\": true|false}.")
            await receive(conversations, caller, frame, conversation_id, origin)
        except inputs.InvalidInput as error:
            await send_error(ws, "invalid_request", str(error))
        except ApiError as error:
            await send_error(ws, error.code, str(error))


async def link_code(request: Request) -> HTTPResponse:
    """A one-time code that links a messaging account (Telegram) to this verified customer."""
    caller = await authenticate(request, bearer(request))
    conversations = conversations_of(request)
    if not caller.session.customer_id:
        raise ApiError(403, "not_verified", "Only a logged-in customer can link a messaging account.")
    code, expires = await conversations.db(conversations.link_codes.issue, caller.session.customer_id, service_hours.now())
    answer = {"code": code, "expires_at": expires.isoformat(timespec="seconds")}
    for channel in conversations.channels:  # the deep link sends "/start <code>"
        url = channel.link_url(code)
        if url:
            answer[f"{channel.name}_url"] = url
    return json_response(answer)


async def openapi(request: Request) -> HTTPResponse:
    return await file(OPENAPI, mime_type="application/yaml")


async def demo_page(request: Request) -> HTTPResponse:
    if not conversations_of(request).settings.demo:
        raise ApiError(404, "not_found", "No demo page in production mode.")
    return await file(DEMO_PAGE, headers=security_headers.pages())


async def demo_identity_token(request: Request) -> HTTPResponse:
    """Stands in for the firm's website backend for the demo customers only: any other id,
    imported or unknown, gets the same 404 (channels/web/identity.py)."""
    token = channel_of(request).identity_tokens.sign_for_demo(request.args.get("customer_id", ""))
    if token is None:
        raise ApiError(404, "not_found", "No such demo customer.")
    return json_response({"identity_token": token})


ROUTES = [
    (start_session, "/api/v1/sessions", "POST"),
    (post_message, "/api/v1/messages", "POST"),
    (get_messages, "/api/v1/messages", "GET"),
    (socket, "/api/v1/ws", "WEBSOCKET"),
    (link_code, "/api/v1/link-codes", "POST"),
    (openapi, "/api/v1/openapi.yaml", "GET"),
    (demo_page, "/", "GET"),
]
DEMO_ROUTES = [(demo_identity_token, "/demo/identity-token", "GET")]  # in production the route does not exist


def blueprint(demo: bool) -> Blueprint:
    return routes.blueprint("web_channel", ROUTES + (DEMO_ROUTES if demo else []))
