"""The echo channel: ``POST /channels/echo/<user>`` with ``{"id", "text"}`` is a customer's message
(answered in the response), ``GET /channels/echo/<user>`` what the core delivered to that user."""

from __future__ import annotations

from collections import defaultdict
from typing import Dict, List

from sanic.response import json as json_response

from bot.core.channel import Capabilities, Channel, ConversationKind
from bot.core.customers import profile_of
from bot.core.models import Message

PREFIX = "echo-"


def shown(message: Message) -> str:
    """A text-only channel shows the disclosure under the answer (as Telegram does)."""
    return f"{message.text}\n\n{message.disclosure}" if message.disclosure else message.text


class EchoChannel(Channel):
    name = "echo"
    kinds = (ConversationKind("echo", {"zh": "回声", "en": "Echo"}),)
    capabilities = Capabilities(live_chat=True)

    def __init__(self) -> None:
        self.delivered: Dict[str, List[str]] = defaultdict(list)

    def install(self, app, host) -> None:
        self.conversations = host.conversations
        app.add_route(self.receive, "/channels/echo/<user>", methods=["POST"])
        app.add_route(self.sent, "/channels/echo/<user>", methods=["GET"])

    async def receive(self, request, user: str):
        conversations, conversation_id = self.conversations, PREFIX + user
        await conversations.db(conversations.store.open_conversation, conversation_id, None, "echo", None)
        accepted = await conversations.accept_inbound(conversation_id, request.json["text"], request.json["id"])
        replies = [] if accepted.duplicate else await conversations.handle_inbound(accepted.message, profile_of(None))
        return json_response({"stored": accepted.message.text, "replies": [shown(r) for r in replies]}, ensure_ascii=False)

    async def sent(self, request, user: str):
        return json_response({"delivered": self.delivered[PREFIX + user]}, ensure_ascii=False)

    async def deliver(self, message: Message) -> None:
        if message.conversation_id.startswith(PREFIX):
            self.delivered[message.conversation_id].append(shown(message))
