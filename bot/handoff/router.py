"""The contact service's side of handoffs: queue a conversation the assistant hands over, keep
waiting customers told their place and wait, and tell the agents' consoles what changed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict

from bot import knowledge, service_hours
from bot.contact.models import Conversation
from bot.handoff.desk import HandoffDesk, HandoffRequest
from bot.handoff.models import REASONS, Handoff

if TYPE_CHECKING:
    from bot.contact.app import ContactService

CONSOLE = "console"  # the hub key every agent console subscribes to


class HandoffRouter:
    def __init__(self, service: "ContactService"):
        self.service = service
        self.desk = HandoffDesk(service.store.sessions, service.settings.agent_capacity)

    def agents_online(self) -> int:
        return len(self.service.hub.sockets.get(CONSOLE, ()))

    async def to_consoles(self, frame: Dict[str, Any]) -> None:
        await self.service.hub.publish(CONSOLE, frame)

    async def hand_over(self, conversation: Conversation, profile: Dict[str, Any], wanted: Dict[str, Any],
                        language: str) -> Handoff:
        """Queue the conversation as the assistant asked (the tier comes from the verified
        profile, not from the assistant), and tell the customer their place."""
        reason = wanted.get("reason") if wanted.get("reason") in REASONS else "customer_request"
        request = HandoffRequest(
            conversation_id=conversation.id, reason=reason, tier=profile.get("tier") or "standard",
            language=language, customer_id=conversation.customer_id, urgent=bool(wanted.get("urgent")),
            summary=(wanted.get("summary") or None), complaint_reference=wanted.get("complaint_reference"),
        )
        handoff = await self.service.db(self.desk.request, request, service_hours.now())
        await self.to_consoles({"type": "queue_changed", "conversation_id": conversation.id, "urgent": handoff.urgent})
        await self.announce_positions(told=handoff)
        return handoff

    async def left_queue(self, conversation_id: str) -> None:
        """The customer is no longer waiting (an agent has them, or they are back with the bot)."""
        await self.service.hub.publish(conversation_id, {"type": "queue", "position": None})

    async def announce_positions(self, told: Handoff | None = None) -> None:
        """Push every waiting customer their place and wait; ``told`` also gets it as a message."""
        waiting = await self.service.db(self.desk.waiting)
        positions = self.desk.positions(waiting)
        handling = await self.service.db(self.desk.handling_minutes) if waiting else None
        for handoff in waiting:
            position = positions[handoff.id]
            minutes = self.desk.estimated_wait_minutes(position, self.agents_online(), handling)
            await self.service.hub.publish(handoff.conversation_id, {
                "type": "queue", "position": position, "ahead": position - 1, "estimated_wait_minutes": minutes,
            })
            if told is not None and handoff.id == told.id:
                text = knowledge.message("queue_position", handoff.language, ahead=position - 1, minutes=minutes)
                await self.service.say(handoff.conversation_id, text, sender="system")
