"""The contact service's side of handoffs: queue a conversation the assistant hands over, keep
waiting customers honestly told their place and wait (docs/architecture.md, "Honest waiting"),
and tell the agents' consoles what changed."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Set

from bot import knowledge, service_hours
from bot.core.models import Conversation, Message
from bot.core.rasa_client import AssistantUnavailable
from bot.core.staff import Staff
from bot.handoff.closing import Closed, ClosingSweep
from bot.handoff.desk import HandoffDesk, HandoffRequest, Wait
from bot.handoff.models import REASONS, Handoff
from bot.surveys import SurveyDesk

if TYPE_CHECKING:
    from bot.core.conversations import Conversations

logger = logging.getLogger(__name__)
CONSOLES = "consoles"  # the bus's topic of live events for the agents' consoles

ACKNOWLEDGE_EVERY = timedelta(minutes=1)
# Questions the assistant still answers while the customer waits: clear FAQ and product questions.
ANSWERED_WHILE_WAITING = {"faq", "product_info", "product_list"}
CONFIDENT = 0.8
# The waiting customer's choices (buttons this service sends; "/request_callback" is the assistant's
# own callback booking, which the customer leaves the queue for).
KEEP_WAITING, LEAVE_MESSAGE, CALLBACK = "/queue_keep_waiting", "/queue_leave_message", "/request_callback"
# "不等了", "取消排队", "cancel": the customer leaves the queue. Whole short messages only for the
# words that mean other things inside a longer one ("cancel my order" is no such request).
_LEAVE_ANYWHERE = re.compile(r"不等了|不想等了|不用等了|等不了了|取消排队|退出排队|取消人工|取消转人工|不要人工了|"
                             r"stop waiting|leave the queue|cancel (?:the )?(?:queue|waiting|request for an agent)|"
                             r"(?:don'?t|do not) want to wait any ?(?:more|longer)|no longer want (?:to wait|an agent)")
_LEAVE_ALONE = re.compile(r"(?:算了吧?|取消|不用了|cancel|never ?mind|forget it)")


def wants_to_leave(text: str) -> bool:
    """Whether a waiting customer's words say they no longer want to wait for an agent."""
    words = unicodedata.normalize("NFKC", text or "").lower().strip()
    bare = re.sub(r"[\s.,!?，。！？~～…]+", " ", words).strip()
    return bool(_LEAVE_ANYWHERE.search(words) or _LEAVE_ALONE.fullmatch(bare))


@dataclass
class WhileWaiting:
    """What became of a customer message while the conversation was queued: what the customer was
    told, and whether the assistant should now answer the message itself (they left the queue for
    the assistant's callback booking, or the agents had closed)."""

    told: List[Message] = field(default_factory=list)
    for_assistant: bool = False


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
        self.closing = ClosingSweep(service.store.sessions)
        self.consoles: Dict[Any, Staff] = {}  # this process's open console WebSockets -> whose they are
        self.presence = service.shared.presence  # and every process's, for agents_online
        service.shared.bus.subscribe(CONSOLES, self._published)
        service.shared.bus.on_resume(self._reconnect_consoles)

    async def console_opened(self, socket: Any, staff: Staff) -> None:
        self.consoles[socket] = staff
        await self.presence.arrived(socket, staff.id)

    async def console_closed(self, socket: Any) -> None:
        self.consoles.pop(socket, None)
        await self.presence.left(socket)

    async def _reconnect_consoles(self) -> None:
        """Live events may have been missed: the consoles reconnect, and reload the queue and the
        conversation they show (1012: the service restarts)."""
        for socket in list(self.consoles):
            try:
                await socket.close(1012, "reload")
            except Exception:  # closed already
                pass

    async def online_ids(self) -> Set[str]:
        """Staff with the console open, on any contact-service process."""
        return await self.presence.online()

    async def agents_online(self) -> int:
        """Staff with the console open (one person with two tabs counts once)."""
        return len(await self.online_ids())

    def live_chat_kinds(self) -> List[str]:
        """Kinds of conversation whose customers wait live (not email: a mail is answered by mail)."""
        return [kind for kind in self.service.kinds() if self.service.capabilities(kind).live_chat]

    async def to_consoles(self, frame: Dict[str, Any], conversation_id: Optional[str] = None) -> None:
        """Push ``frame`` to the consoles that may see it. A frame about what is said in a
        conversation (a message, a note, typing; pass its ``conversation_id``) goes only to the
        staff who may open that conversation (:func:`may_see`): a customer's words are not sent
        to every agent's browser while a colleague has them. Frames without ``conversation_id``
        (queue changes, which carry no text) go to every console; each then reads the queue it
        may see. The frame goes to every contact-service process (the bus); each checks who may
        see it for its own sockets (:meth:`_published`)."""
        await self.service.shared.bus.publish(CONSOLES, {"frame": frame, "conversation_id": conversation_id})

    async def _published(self, event: Dict[str, Any]) -> None:
        conversation_id = event["conversation_id"]
        if not self.consoles:
            return
        if conversation_id is None:
            await self._send(event["frame"], lambda staff: True)
        else:
            handoff = await self.service.db(self.desk.open_for, conversation_id)
            await self._send(event["frame"], lambda staff: may_see(staff, handoff))

    async def customer_typing(self, conversation_id: str, on: bool) -> None:
        """The customer is typing (or stopped): told to the agent who has the conversation (and
        supervisors), only while an agent has it; never stored."""
        handoff = await self.service.db(self.desk.open_for, conversation_id)
        if handoff is not None and handoff.state == "with_agent":  # the conversation's owner is "agent"
            await self.to_consoles({"type": "typing", "conversation_id": conversation_id, "on": on}, conversation_id)

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

    async def waits(self) -> Dict[int, Wait]:
        """The wait of each customer waiting live (not a left message), by handoff id."""
        waiting = await self.service.db(self.desk.waiting)
        live = [h for h in waiting if h.left_message_at is None]
        if not live:
            return {}
        positions, online = self.desk.positions(waiting), await self.online_ids()
        busy = await self.service.db(self.desk.busy_since, online)
        handling = await self.service.db(self.desk.handling_minutes)
        now = service_hours.now()
        return {h.id: self.desk.wait(positions[h.id], len(online), busy, handling, now) for h in live}

    @staticmethod
    def place_text(wait: Wait, language: str) -> str:
        """The customer's place and wait in words: nobody online (no estimate), served shortly (a
        free slot), next, or n ahead — always agreeing with the numbers."""
        if wait.agents_online == 0:
            return knowledge.message("waiting_nobody_online", language)
        if wait.minutes is None:
            return knowledge.message("waiting_shortly", language)
        if wait.ahead == 0:
            return knowledge.message("waiting_next", language, minutes=wait.minutes)
        return knowledge.message("waiting_place", language, ahead=wait.ahead, minutes=wait.minutes)

    @staticmethod
    def choices(language: str) -> List[Dict[str, str]]:
        """Keep waiting, a callback, or a message for the agents."""
        return [{"title": knowledge.message("button_keep_waiting", language), "payload": KEEP_WAITING},
                {"title": knowledge.message("button_callback", language), "payload": CALLBACK},
                {"title": knowledge.message("button_leave_message", language), "payload": LEAVE_MESSAGE}]

    async def announce_positions(self, told: Handoff | None = None) -> None:
        """Push every customer waiting live their place and wait (their channel's banner); ``told``
        also gets it as a message — with no agent online, with the choice of waiting on, a
        callback or leaving a message."""
        waits = await self.waits()
        for handoff in await self.service.db(self.desk.waiting):
            wait = waits.get(handoff.id)
            if wait is None:
                continue
            await self.service.notify(handoff.conversation_id, {
                "type": "queue", "position": wait.position, "ahead": wait.ahead, "estimated_wait_minutes": wait.minutes,
                "agents_online": wait.agents_online, "text": self.banner(wait, handoff.language),
            })
            if told is not None and handoff.id == told.id:
                nobody = wait.agents_online == 0 and self.service.capabilities(handoff.channel).live_chat
                await self.tell(handoff.conversation_id, self.place_text(wait, handoff.language),
                                self.choices(handoff.language) if nobody else None)

    @staticmethod
    def banner(wait: Wait, language: str) -> str:
        """The one line a widget shows above the chat while the customer waits."""
        if wait.agents_online == 0:
            return knowledge.message("waiting_banner_nobody", language, position=wait.position)
        if wait.minutes is None:
            return knowledge.message("waiting_banner_shortly", language, position=wait.position)
        return knowledge.message("waiting_banner", language, position=wait.position, minutes=wait.minutes)

    async def tell(self, conversation_id: str, text: str, buttons: Optional[List[Dict[str, str]]] = None) -> Message:
        message = await self.service.db(self.service.store.store_outbound, conversation_id, text, "system", buttons)
        await self.service.deliver(message)
        return message

    async def while_waiting(self, inbound: Message, handoff: Handoff, profile: Dict[str, Any], language: str) -> WhileWaiting:
        """A customer message while the conversation is queued (it has gone to the agents'
        consoles): a choice of theirs (keep waiting, a callback, leave a message), leaving the
        queue ("不等了", "cancel"), a clear FAQ or product question the assistant still answers
        (the conversation stays queued), and at most once a minute the word that the agents will
        see it. After closing time the day is closed for it first and the assistant answers."""
        now = service_hours.now()
        if not service_hours.agents_available(now):
            await self.closed(await self.service.db(self.closing.close, handoff.id, now))
            return WhileWaiting(for_assistant=True)
        if inbound.payload == CALLBACK or (inbound.payload is None and wants_to_leave(inbound.text)):
            if await self.service.db(self.desk.withdraw, handoff.conversation_id, now) is None:
                return WhileWaiting()  # an agent took the conversation meanwhile: theirs to answer
            await self.queue_changed(handoff)
            if inbound.payload == CALLBACK:
                return WhileWaiting(for_assistant=True)
            return WhileWaiting([await self.tell(handoff.conversation_id, knowledge.message("waiting_cancelled", language))])
        if inbound.payload == LEAVE_MESSAGE:
            left = await self.service.db(self.desk.leave_message, handoff.conversation_id, now)
            if left is not None:
                await self.queue_changed(handoff)
            return WhileWaiting([await self.tell(handoff.conversation_id, knowledge.message("waiting_message_left", language))])
        told = []
        if inbound.payload == KEEP_WAITING or await self.service.db(self.desk.acknowledge, handoff.id, now, ACKNOWLEDGE_EVERY):
            told.append(await self.tell(handoff.conversation_id, await self.acknowledgement(handoff, language)))
        if inbound.payload is None:
            told += await self.answer_question(inbound, profile, language)
        return WhileWaiting(told)

    async def acknowledgement(self, handoff: Handoff, language: str) -> str:
        if handoff.left_message_at is not None:
            return knowledge.message("waiting_ack_message", language)
        wait = (await self.waits()).get(handoff.id)
        if wait is None:  # not waiting any more
            return knowledge.message("waiting_ack_message", language)
        return knowledge.message("waiting_ack", language, position=wait.position, place=self.place_text(wait, language))

    async def answer_question(self, inbound: Message, profile: Dict[str, Any], language: str) -> List[Message]:
        """The assistant's answer to a clear FAQ or product question asked while waiting (its
        NLU, then its reply, marked as the assistant's); nothing for anything else."""
        service = self.service
        try:
            intent = (await service.rasa.parse(inbound.text)).get("intent") or {}
            if intent.get("name") not in ANSWERED_WHILE_WAITING or float(intent.get("confidence") or 0) < CONFIDENT:
                return []
            conversation = await service.db(service.store.conversation, inbound.conversation_id)
            metadata = {"customer": profile, "channel": conversation.channel, "language": language}
            answer = await service.rasa.send(inbound.conversation_id, inbound.text, metadata)
        except AssistantUnavailable as error:
            logger.warning("assistant unavailable for a question while waiting: %s", error)
            return []
        stored = await service.db(service.store.store_replies, inbound, answer.replies, answered=False)
        for message in stored:
            await service.deliver(message)
        return stored

    async def queue_changed(self, handoff: Handoff) -> None:
        """The customer left the live queue (cancelled, a callback, a message left): their banner
        goes, the consoles and the others waiting are told."""
        await self.left_queue(handoff.conversation_id)
        await self.to_consoles({"type": "queue_changed", "conversation_id": handoff.conversation_id})
        await self.announce_positions()

    async def closed(self, closed: Optional[Closed]) -> None:
        """Deliver what the closing sweep told a customer, and update banners and consoles."""
        if closed is None:
            return
        await self.service.deliver(closed.notice)
        await self.left_queue(closed.conversation_id)
        await self.to_consoles({"type": "queue_changed", "conversation_id": closed.conversation_id})

    async def watch_waiting(self) -> None:
        """Every ``waiting_interval`` seconds: out of hours, close the day for whoever still waits;
        in hours, offer a callback to those waiting too long; and when the agents online change,
        tell the waiting customers their new wait."""
        settings, online = self.service.settings, None
        while True:
            try:
                online = await self.check_waiting(online)
            except Exception:
                logger.exception("checking waiting customers failed")
            await asyncio.sleep(settings.waiting_interval)

    async def check_waiting(self, online_before: Optional[int]) -> int:
        now, kinds = service_hours.now(), self.live_chat_kinds()
        if not service_hours.agents_available(now):
            for closed in await self.service.db(self.closing.run, now, kinds):
                await self.closed(closed)
        else:
            after = timedelta(seconds=self.service.settings.callback_offer_after)
            for handoff in await self.service.db(self.desk.offer_callbacks, now, after, kinds):
                minutes = round(self.service.settings.callback_offer_after / 60)
                buttons = [{"title": knowledge.message("button_callback", handoff.language), "payload": CALLBACK},
                           {"title": knowledge.message("button_keep_waiting", handoff.language), "payload": KEEP_WAITING}]
                await self.tell(handoff.conversation_id, knowledge.message("waiting_callback_offer", handoff.language,
                                                                           minutes=max(1, minutes)), buttons)
        online = await self.agents_online()
        if online != online_before:
            await self.announce_positions()
        return online

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
