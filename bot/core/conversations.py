"""The conversation core: every customer message of every channel enters here, is answered
by the assistant (or kept for the agent who has the conversation), and every reply leaves through
the installed channels. It knows no web framework and no channel, only the :class:`Channel`
interface (docs/architecture.md, "The conversation core")."""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional, Sequence, Set

from bot import knowledge
from bot.core import metrics
from bot.core.channel import Capabilities, Channel
from bot.core.customers import profile_of
from bot.core.db import make_engine, session_factory
from bot.core.leases import Leases
from bot.core.link_codes import LinkCodes
from bot.core.models import Conversation, Message
from bot.core.rasa_client import AnswerFailed, AssistantUnavailable, RasaClient
from bot.core.ratelimit import Limiter, Rate
from bot.core.settings import Settings
from bot.core.shared_state import SharedState
from bot.core.store import ConversationStore, message_dict
from bot.core.vault import Vault
from bot.handoff.router import HandoffRouter
from bot.language import SUPPORTED, reply_language

logger = logging.getLogger(__name__)
NO_CAPABILITIES = Capabilities()
CUSTOMERS = "customers"  # the bus's topic of live events for customers' open clients


@dataclass(frozen=True)
class Accepted:
    """A customer message as stored, and whether it was a resend of one stored before."""

    message: Message
    duplicate: bool


def message_language(inbound: Message, conversation: Conversation) -> str:
    """The language to tell the customer something about ``inbound`` in: the message's own, or
    the conversation's for a message without one (a tapped button, "ok")."""
    return reply_language(None if inbound.payload is not None else inbound.text, conversation.language)


class Conversations:
    """Receives customer messages, stores them, gets the assistant's replies, delivers them."""

    def __init__(self, settings: Settings, channels: Sequence[Channel] = ()):
        self.settings = settings
        self.engine = make_engine(settings.database_url)
        self.vault = Vault(settings.personal_data_key)
        self.store = ConversationStore(session_factory(self.engine), self.vault)
        # Limits, live events and agents online, across processes when REDIS_URL is set; started
        # and closed by the app (bot/server/app.py).
        self.shared = SharedState.from_url(settings.redis_url)
        self.link_codes = LinkCodes(self.store.sessions, self.shared.rates)
        self.leases = Leases(self.store.sessions, settings.lease_seconds)  # jobs one process of several runs
        self.rasa = RasaClient(settings.rasa_url, settings.rasa_timeout, settings.rasa_token, settings.actions_url)
        self.limiter = Limiter(self.shared.rates, Rate("messages", settings.rate_limit_messages, settings.rate_limit_window))
        self.shared.bus.subscribe(CUSTOMERS, self._notified)
        self.channels = list(channels)
        self.handoffs = HandoffRouter(self)

    async def db(self, function, *args, **kwargs):
        return await asyncio.to_thread(function, *args, **kwargs)

    def origin(self, where: str) -> str:
        """A keyed hash of where a message came from (``ip:<address>``, ``telegram:<user id>``):
        abuse limits count by it without the address itself being stored."""
        return hmac.new(self.settings.session_secret.encode(), where.encode(), "sha256").hexdigest()[:32]

    def kinds(self) -> List[str]:
        """The conversation kinds of the installed channels ("web", "app", "telegram", "email")."""
        return [kind.name for channel in self.channels for kind in channel.kinds]

    def channel_for(self, kind: str) -> Optional[Channel]:
        """The installed channel serving conversations of ``kind`` ("web", "telegram"…)."""
        return next((channel for channel in self.channels if any(k.name == kind for k in channel.kinds)), None)

    def capabilities(self, kind: str) -> Capabilities:
        """What the channel serving conversations of ``kind`` can do (nothing, for no channel)."""
        channel = self.channel_for(kind)
        return channel.capabilities if channel else NO_CAPABILITIES

    async def details(self, conversation: Conversation) -> Optional[Dict[str, Any]]:
        """What the conversation's channel shows the console beside it (an email's ticket)."""
        channel = self.channel_for(conversation.channel)
        return await channel.details(conversation.id) if channel else None

    async def profile(self, conversation: Conversation) -> Dict[str, Any]:
        """The verified profile of the conversation's customer (an anonymous one's otherwise)."""
        customer = await self.db(self.store.customer, conversation.customer_id) if conversation.customer_id else None
        return profile_of(customer)

    async def accept_inbound(self, conversation_id: str, text: str, client_message_id: str, *,
                             payload: Optional[str] = None, origin: Optional[str] = None,
                             also: Sequence[Any] = ()) -> Accepted:
        """Store a customer message once per ``client_message_id`` of its conversation (opened by
        the channel, which gave it its kind): masked, mobile numbers sealed
        (ConversationStore.add_inbound), with ``also`` rows the channel commits with it. Answering
        it is :meth:`handle_inbound`, once the channel has answered its client."""
        message, duplicate = await self.db(self.store.store_inbound, conversation_id, client_message_id, text,
                                           also, payload=payload, origin=origin)
        return Accepted(message, duplicate)

    async def handle_inbound(self, inbound: Message, profile: Dict[str, Any]) -> List[Message]:
        """A customer message just stored (:meth:`accept_inbound`): shown on the conversation's
        open clients, then for the agents' consoles while an agent has the conversation (no
        replies) or it waits for one (HandoffRouter.while_waiting: acknowledged, a clear question
        still answered, a choice or "cancel" acted on), else answered by the assistant. Returns
        the replies."""
        conversation_id = inbound.conversation_id
        await self.notify(conversation_id, {"type": "message", "message": message_dict(inbound)})
        if inbound.status == "for_agent":
            await self.handoffs.to_consoles({"type": "message", "conversation_id": conversation_id, "message": message_dict(inbound)},
                                            conversation_id)
            handoff = await self.db(self.handoffs.desk.open_for, conversation_id)
            if handoff is None or handoff.state != "waiting" or not self.capabilities(handoff.channel).live_chat:
                return []  # an agent has it: theirs alone to answer
            conversation = await self.db(self.store.conversation, conversation_id)
            waiting = await self.handoffs.while_waiting(inbound, handoff, profile, message_language(inbound, conversation))
            if not waiting.for_assistant:
                return waiting.told
            await self.db(self.store.for_assistant, inbound.id)
        return await self.answer(inbound, profile)

    async def answer(self, inbound: Message, profile: Dict[str, Any], retry: bool = False) -> List[Message]:
        """Get the assistant's replies to a stored message and deliver them. Returns the stored
        replies (none on failure, or when another process answered it first). The caller holds the
        message's claim (ConversationStore.claim: it stored the message, or the retry loop took it),
        so of several processes one answers it; a failure gives the claim up for the retry loop.

        If the assistant fails, the message stays pending for the retry loop and the customer gets
        one apology (the first time only: not on a ``retry``). A failure of this very message (the
        assistant is up: AnswerFailed) is counted; the retry loop waits longer after each, and the
        last allowed one parks the message with a notice to the customer, so one message the
        assistant cannot answer never holds up the others. On a ``retry`` an outage is raised
        (AssistantUnavailable): the loop stops until the assistant is back."""
        conversation_id = inbound.conversation_id
        await self.notify(conversation_id, {"type": "typing", "on": True})
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
                if stored is None:  # another process answered it meanwhile (a claim that ran out): its answer stands
                    return []
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
            await self.db(self.store.unclaim, inbound.id)  # nothing, once answered
            await self.notify(conversation_id, {"type": "typing", "on": False})
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
        for channel in self.channels:
            await channel.deliver(message)

    async def notify(self, conversation_id: str, frame: Dict[str, Any]) -> None:
        """A live event for the customer's open clients (typing, queue place, a message), on
        whichever process they are connected to (the bus)."""
        await self.shared.bus.publish(CUSTOMERS, {"conversation_id": conversation_id, "frame": frame})

    async def _notified(self, event: Dict[str, Any]) -> None:
        """A live event from the bus: each channel passes it to this process's clients."""
        for channel in self.channels:
            await channel.notify(event["conversation_id"], event["frame"])

    async def retry_pending(self) -> None:
        """Answer the messages still pending, oldest first: those stored while the assistant was
        down, and those it failed on whose wait is over. An outage ends the pass (tried again
        later); a message that fails again waits longer and the others go on. Each message is
        claimed first; one another process holds (or just answered) is left to it, and so are the
        later messages of its conversation in this pass, which keeps a conversation's answers in
        order when several processes retry at once."""
        busy: Set[str] = set()
        for inbound in await self.db(self.store.pending_inbound, datetime.now(timezone.utc)):
            if inbound.conversation_id in busy:
                continue
            if not await self.db(self.store.claim, inbound.id, datetime.now(timezone.utc)):
                busy.add(inbound.conversation_id)
                continue
            conversation = await self.db(self.store.conversation, inbound.conversation_id)
            try:
                await self.answer(inbound, await self.profile(conversation), retry=True)
            except AssistantUnavailable:
                return  # still down; try again later

    async def retry_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.retry_interval)
            try:
                await self.retry_pending()
            except Exception:
                logger.exception("retrying pending messages failed")
