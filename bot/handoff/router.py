"""The contact service's side of handoffs: queue a conversation the assistant hands over, keep
waiting customers told their place and wait, and tell the agents' consoles what changed."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional

from bot import knowledge, service_hours
from bot.core.models import Conversation
from bot.core.staff import Staff
from bot.handoff.desk import HandoffDesk, HandoffRequest
from bot.handoff.models import REASONS, Handoff
from bot.surveys import SurveyDesk

if TYPE_CHECKING:
    from bot.core.conversations import Conversations


def may_see(staff: Staff, handoff: Optional[Handoff]) -> bool:
    """Whether a staff member may read a conversation (its messages, notes, typing): supervisors
    any; agents one waiting in the queue (any of them may claim it) or one they have."""
    if staff.is_supervisor:
        return True
    return handoff is not None and (handoff.state == "waiting" or handoff.agent_id == staff.id)


class HandoffRouter:
    def __init__(self, service: "Conversations"):
        self.service = service
        self.desk = HandoffDesk(service.store.sessions, service.settings.agent_capacity)
        self.consoles: Dict[Any, Staff] = {}  # open console WebSockets -> whose they are

    def agents_online(self) -> int:
        """Staff with the console open (one person with two tabs counts once)."""
        return len({staff.id for staff in self.consoles.values()})

    async def to_consoles(self, frame: Dict[str, Any], conversation_id: Optional[str] = None) -> None:
        """Push ``frame`` to the consoles that may see it. A frame about what is said in a
        conversation (a message, a note, typing; pass its ``conversation_id``) goes only to the
        staff who may open that conversation (:func:`may_see`): a customer's words are not sent
        to every agent's browser while a colleague has them. Frames without ``conversation_id``
        (queue changes, which carry no text) go to every console; each then reads the queue it
        may see."""
        if conversation_id is None:
            await self._send(frame, lambda staff: True)
        else:
            handoff = await self.service.db(self.desk.open_for, conversation_id)
            await self._send(frame, lambda staff: may_see(staff, handoff))

    async def customer_typing(self, conversation_id: str, on: bool) -> None:
        """The customer is typing (or stopped): told to the agent who has the conversation (and
        supervisors), only while an agent has it; never stored."""
        handoff = await self.service.db(self.desk.open_for, conversation_id)
        if handoff is not None and handoff.state == "with_agent":  # the conversation's owner is "agent"
            frame = {"type": "typing", "conversation_id": conversation_id, "on": on}
            await self._send(frame, lambda staff: may_see(staff, handoff))

    async def _send(self, frame: Dict[str, Any], to: Callable[[Staff], bool]) -> None:
        data = json.dumps(frame, ensure_ascii=False)
        for socket, staff in list(self.consoles.items()):
            if to(staff):
                try:
                    await socket.send(data)
                except Exception:  # a closed socket; its handler removes it too
                    self.consoles.pop(socket, None)

    async def hand_over(self, conversation: Conversation, profile: Dict[str, Any], wanted: Dict[str, Any],
                        language: str) -> Handoff:
        """Queue the conversation as the assistant asked (the tier comes from the verified
        profile, not from the assistant), and tell the customer their place."""
        reason = wanted.get("reason") if wanted.get("reason") in REASONS else "customer_request"
        request = HandoffRequest(
            conversation_id=conversation.id, reason=reason, tier=profile.get("tier") or "standard",
            language=language, customer_id=conversation.customer_id, urgent=bool(wanted.get("urgent")),
            summary=(wanted.get("summary") or None), complaint_reference=wanted.get("complaint_reference"),
            channel=conversation.channel,
        )
        handoff = await self.service.db(self.desk.request, request, service_hours.now())
        await self.to_consoles({"type": "queue_changed", "conversation_id": conversation.id, "urgent": handoff.urgent})
        await self.announce_positions(told=handoff)
        return handoff

    async def left_queue(self, conversation_id: str) -> None:
        """The customer is no longer waiting (an agent has them, or they are back with the bot)."""
        await self.service.notify(conversation_id, {"type": "queue", "position": None})

    async def announce_positions(self, told: Handoff | None = None) -> None:
        """Push every waiting customer their place and wait; ``told`` also gets it as a message."""
        waiting = await self.service.db(self.desk.waiting)
        positions = self.desk.positions(waiting)
        handling = await self.service.db(self.desk.handling_minutes) if waiting else None
        for handoff in waiting:
            position = positions[handoff.id]
            minutes = self.desk.estimated_wait_minutes(position, self.agents_online(), handling)
            await self.service.notify(handoff.conversation_id, {
                "type": "queue", "position": position, "ahead": position - 1, "estimated_wait_minutes": minutes,
            })
            if told is not None and handoff.id == told.id:
                text = knowledge.message("queue_position", handoff.language, ahead=position - 1, minutes=minutes)
                await self.service.say(handoff.conversation_id, text, sender="system")

    async def hand_back(self, handoff: Handoff) -> None:
        """An agent resolved the conversation: the customer is told, and the assistant, now
        answering again, asks for a rating of the agent's service (bot/surveys.py). The survey
        is recorded with the agent and channel even if the assistant cannot ask it now. A
        conversation that is no live chat (email) gets no chat notice: the customer has the agent's
        reply and may answer it; its channel decides what follows (``Channel.resolved``: the email
        channel mails the survey)."""
        service = self.service
        if not service.capabilities(handoff.channel).live_chat:
            channel = service.channel_for(handoff.channel)
            if channel is not None:
                await channel.resolved(handoff)
            return
        await service.say(handoff.conversation_id, knowledge.message("agent_left", handoff.language), "system")
        conversation = await service.db(service.store.conversation, handoff.conversation_id)
        await service.db(SurveyDesk(service.store.sessions).ask, conversation.id, conversation.channel,
                         handoff.language, "agent", service_hours.now(), handoff)
        await service.prompt_assistant(conversation, "/EXTERNAL_survey", await service.profile(conversation), handoff.language)
