"""What each Telegram update does (the webhook has checked the secret and the JSON).

Everything an update causes in the database is committed with its ``telegram_updates`` row
before the webhook answers 200, so a retried delivery does nothing and a crash loses nothing:

- a text message, or a tap on one of the bot's buttons, becomes the customer's message
  (``tg-<update id>``, masked, mobile numbers sealed) through ``Conversations.accept_inbound``.
  It is answered after the 200, in a background task, the way the widget's messages are
  (``Conversations.handle_inbound``): the assistant answers, or, while an agent has the
  conversation, it goes to the agent's console. A crash or a Rasa outage leaves it pending and
  the contact service's retry loop answers it;
- ``/start`` greets, ``/start <code>`` and ``/link <code>`` link the chat to a verified customer
  (a one-time code from the logged-in website or app); the reply is stored with the update;
- stickers, photos and other non-text messages get a short "text only" note; an edited message
  gets a note to send the correction as a new message (it is never answered again); groups are
  asked once to write privately; channel posts and unknown kinds are only recorded.

On first contact (any update from a new user) the privacy notice is stored first.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Dict, Optional, Set

from bot import knowledge, service_hours
from bot.core.models import Conversation, Message
from bot.language import DEFAULT_LANGUAGE, detect_language
from channels.telegram import updates as kinds
from channels.telegram.config import TelegramConfig
from channels.telegram.models import TelegramUpdate
from channels.telegram.outbound import TelegramSender
from channels.telegram.render import parse_callback_data
from channels.telegram.store import TelegramStore, system_message
from channels.telegram.updates import Incoming, classify

if TYPE_CHECKING:
    from bot.core.conversations import Conversations

logger = logging.getLogger(__name__)
MAX_TEXT = 4096  # Telegram's own limit; longer texts cannot arrive


def first_language(text: Optional[str], language_code: Optional[str]) -> str:
    """A new conversation's language: the first message's, else the Telegram app's, else Chinese."""
    detected = detect_language(text)
    if detected:
        return detected
    code = (language_code or "").lower()
    if code.startswith("en"):
        return "en"
    if code.startswith("zh"):
        return "zh"
    return DEFAULT_LANGUAGE


class TelegramInbound:
    def __init__(self, service: "Conversations", store: TelegramStore, sender: TelegramSender, config: TelegramConfig):
        self.service = service
        self.store = store
        self.sender = sender
        self.config = config
        self.tasks: Set[asyncio.Task] = set()

    async def receive(self, update: Dict[str, Any]) -> None:
        """Commit what the update causes (raises OperationalError when the database is down)."""
        incoming = classify(update)
        if await self.service.db(self.store.seen, incoming.update_id):
            return  # a retried delivery: done already
        handler = {
            kinds.TEXT: self._text, kinds.CALLBACK: self._callback, kinds.COMMAND: self._command,
            kinds.NON_TEXT: self._non_text, kinds.EDITED: self._edited, kinds.GROUP: self._group,
            kinds.BLOCKED: self._blocked, kinds.UNBLOCKED: self._blocked,
        }.get(incoming.kind)
        if handler is None:  # channel posts, unknown kinds: recorded so they count once, nothing else
            logger.info("telegram update %s (%s %s) ignored", incoming.update_id, incoming.kind, incoming.detail)
            await self.service.db(self.store.record, self._row(incoming, None))
            return
        await handler(incoming)

    def later(self, coroutine) -> None:
        """Run after the webhook has answered (kept referenced until done)."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def stop(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    # Pieces

    def _row(self, incoming: Incoming, conversation_id: Optional[str]) -> TelegramUpdate:
        return TelegramUpdate(update_id=incoming.update_id, kind=incoming.kind, conversation_id=conversation_id,
                              chat_id=incoming.chat_id, received_at=service_hours.now())

    async def _open(self, incoming: Incoming, text: Optional[str] = None) -> Conversation:
        """The user's conversation; on first contact the privacy notice is stored and sent first."""
        language = first_language(text, incoming.language_code)
        conversation, notice = await self.service.db(
            self.store.open_chat, incoming.conversation_id, incoming.chat_id, incoming.user_id, language,
            service_hours.now(), lambda lang: knowledge.message("telegram_privacy_notice", lang),
        )
        if notice is not None:
            await self.service.deliver(notice)
        return conversation

    async def _reply(self, incoming: Incoming, conversation: Conversation, key: str, sender: str = "system",
                     **values: Any) -> None:
        """Record the update with one reply (``messages.yml`` key, in the conversation's language)."""
        text = knowledge.message(key, conversation.language or DEFAULT_LANGUAGE, **values)
        reply = system_message(conversation.id, text, sender)
        if await self.service.db(self.store.record, self._row(incoming, conversation.id), [reply]):
            await self.service.deliver(reply)

    async def _customer_message(self, incoming: Incoming, conversation: Conversation, text: str,
                                payload: Optional[str] = None) -> None:
        """Store the customer's message with the update (one transaction), answer it afterwards.
        A tapped button is its title and the payload the service issued with it."""
        service = self.service
        accepted = await service.accept_inbound(
            conversation.id, text, f"tg-{incoming.update_id}", payload=payload,
            origin=service.origin(f"telegram:{incoming.user_id}"), also=[self._row(incoming, conversation.id)],
        )
        if accepted.duplicate or accepted.message is None:
            return
        self.later(self._answer(accepted.message, await service.profile(conversation), incoming.chat_id))

    async def _answer(self, inbound: Message, profile: Dict[str, Any], chat_id: int) -> None:
        # At once, before anything that waits: the retry loop, which also answers pending
        # messages, leaves alone one being answered (Conversations.answer).
        if inbound.status == "pending":
            self.later(self.sender.best_effort(lambda: self.sender.bot.send_chat_action(chat_id, "typing"), "typing"))
        try:
            await self.service.handle_inbound(inbound, profile)
        except Exception:  # still pending: the retry loop answers it
            logger.exception("answering telegram message %s failed", inbound.id)

    # Kinds

    async def _text(self, incoming: Incoming) -> None:
        text = (incoming.text or "").strip()[:MAX_TEXT]
        conversation = await self._open(incoming, text)
        if not text:
            await self.service.db(self.store.record, self._row(incoming, conversation.id))
            return
        if await self.service.limiter.retry_after(conversation.id):  # the widget's limit, 20 a minute
            await self._reply(incoming, conversation, "telegram_too_fast")
            return
        await self._customer_message(incoming, conversation, text)

    async def _callback(self, incoming: Incoming) -> None:
        conversation = await self._open(incoming)
        callback_id = incoming.callback_id
        self.later(self.sender.best_effort(lambda: self.sender.bot.answer_callback_query(callback_id), "answerCallbackQuery"))
        reference = parse_callback_data(incoming.callback_data)
        button = await self.service.db(self.service.store.button, conversation.id, *reference) if reference else None
        if button is None:  # not one of our buttons in this conversation: recorded, ignored
            logger.info("telegram callback %s with unknown data ignored", incoming.update_id)
            await self.service.db(self.store.record, self._row(incoming, conversation.id))
            return
        await self._customer_message(incoming, conversation, button.title, button.payload)

    async def _command(self, incoming: Incoming) -> None:
        code = (incoming.text or "").split()[0] if incoming.text else ""
        conversation = await self._open(incoming)
        if not code:
            if incoming.command == "link":
                await self._reply(incoming, conversation, "telegram_link_usage")
            else:  # /start: the assistant's greeting (the notice came first on first contact)
                await self._reply(incoming, conversation, "greet", sender="bot")
            return
        if await self.service.link_codes.attempts.retry_after(f"telegram:{incoming.user_id}"):
            await self._reply(incoming, conversation, "telegram_link_too_many")
            return
        now = service_hours.now()
        customer_id = await self.service.db(self.service.link_codes.redeem, code, conversation.id, now)
        if customer_id is None:
            await self._reply(incoming, conversation, "telegram_link_invalid")
            return
        reply = system_message(conversation.id, knowledge.message("telegram_linked", conversation.language or DEFAULT_LANGUAGE))
        if await self.service.db(self.store.link, conversation.id, customer_id, self._row(incoming, conversation.id), reply, now):
            logger.info("telegram conversation %s linked to a verified customer", conversation.id)
            await self.service.deliver(reply)

    async def _non_text(self, incoming: Incoming) -> None:
        conversation = await self._open(incoming)
        await self._reply(incoming, conversation, "telegram_text_only")

    async def _edited(self, incoming: Incoming) -> None:
        if incoming.user_id is None or incoming.chat_id is None:
            await self.service.db(self.store.record, self._row(incoming, None))
            return
        conversation = await self._open(incoming)
        await self._reply(incoming, conversation, "telegram_edited")

    async def _group(self, incoming: Incoming) -> None:
        """Groups are not served (others would read the conversation): asked once, by a direct
        note that is not part of any conversation, to write to the bot privately."""
        told = incoming.chat_id is None or await self.service.db(self.store.group_told, incoming.chat_id)
        if not await self.service.db(self.store.record, self._row(incoming, None)) or told:
            return
        language = first_language(None, incoming.language_code)
        link = f"https://t.me/{self.config.bot_username}" if self.config.bot_username else ""
        text = knowledge.message("telegram_private_only", language,
                                 link=(f"（{link}）" if language == "zh" else f" ({link})") if link else "")
        chat_id = incoming.chat_id
        self.later(self.sender.best_effort(lambda: self.sender.bot.send_message(chat_id, text.strip()), "note to a group"))

    async def _blocked(self, incoming: Incoming) -> None:
        now = service_hours.now() if incoming.kind == kinds.BLOCKED else None
        chat = await self.service.db(self.store.chat, incoming.conversation_id)
        await self.service.db(self.store.record, self._row(incoming, chat.conversation_id if chat else None))
        if chat is not None:
            await self.service.db(self.store.set_blocked, chat.conversation_id, now)
