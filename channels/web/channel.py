"""The website and app channel as the core sees it: conversations of kind ``web`` and ``app``,
the customers' open WebSockets (live messages, typing, queue place), and its routes."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any, Dict, Optional, Set

from sanic import Sanic
from sanic_cors import CORS

from bot.core.channel import Capabilities, Channel, ConversationKind
from bot.core.models import Message
from bot.core.ratelimit import ConnectionCap, Limiter, Rate
from bot.core.store import message_dict
from bot.http import SHARED_SCRIPT, security_headers
from bot.http.host import Host
from channels.web import routes
from channels.web.identity import IdentityVerifier

STATIC = Path(__file__).parent / "static"


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

    async def reconnect_all(self) -> None:
        """Live events may have been missed: every widget reconnects and fetches what it has not
        shown (1012: the service restarts)."""
        for sockets in list(self.sockets.values()):
            for socket in list(sockets):
                try:
                    await socket.close(1012, "reload")
                except Exception:  # closed already
                    pass

    def leave(self, conversation_id: str, socket: Any) -> None:
        """A socket closed; a conversation without open sockets is forgotten."""
        sockets = self.sockets.get(conversation_id)
        if sockets is not None:
            sockets.discard(socket)
            if not sockets:
                del self.sockets[conversation_id]


class WebChannel(Channel):
    name = "web"
    kinds = (ConversationKind("web", {"zh": "网站聊天", "en": "Website chat"}),
             ConversationKind("app", {"zh": "手机应用", "en": "Mobile app"}))
    capabilities = Capabilities(live_chat=True)

    def __init__(self) -> None:
        self.hub = ConversationHub()
        self.host: Optional[Host] = None

    def install(self, app: Sanic, host: Host) -> None:
        settings = host.settings
        self.host = host
        shared = host.conversations.shared
        self.sessions_per_address = Limiter(shared.rates, Rate("sessions", settings.rate_limit_sessions, settings.rate_limit_window))
        # Per process (docs/architecture.md, "Shared state on Redis"): it bounds this process's sockets.
        self.sockets_per_address = ConnectionCap(settings.sockets_per_address)
        shared.bus.on_resume(self.hub.reconnect_all)
        self.identity_tokens = IdentityVerifier.from_settings(settings)  # IdentityKeyError: an unusable key file
        app.ctx.web = self  # the routes read it there
        origins = "*" if settings.allowed_origins.strip() == "*" else [o.strip() for o in settings.allowed_origins.split(",")]
        CORS(app, resources={r"/api/*": {"origins": origins}}, automatic_options=True, expose_headers=["Retry-After"])
        app.blueprint(routes.blueprint(settings.demo))
        app.static("/static/shared.js", str(SHARED_SCRIPT))  # the front ends' helpers (bot/http/static/)
        app.static("/static", str(STATIC))
        app.register_middleware(embedded_file_headers, "response")

    async def deliver(self, message: Message) -> None:
        """To the conversation's open sockets on whichever process they are (through the core's
        live events, which come back to :meth:`notify`)."""
        await self.host.conversations.notify(message.conversation_id, {"type": "message", "message": message_dict(message)})

    async def notify(self, conversation_id: str, frame: Dict[str, Any]) -> None:
        await self.hub.publish(conversation_id, frame)


async def embedded_file_headers(request, response) -> None:
    if request.path.startswith("/static/"):  # the widget's files, loaded by the firm's sites
        response.headers.update(security_headers.EMBEDDED_FILES)
