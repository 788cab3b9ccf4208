"""Sends every outbound message of a Telegram conversation, from the database (an outbox).

``Conversations.deliver`` calls :meth:`TelegramSender.wake` for each stored outbound message
(bot replies, queue and agent-joined notices, agents' replies, the survey). The sender does not
send that message itself: a worker per conversation sends, in id order, every outbound message
after the chat's ``delivered_up_to`` and moves the cursor after each success. So nothing is lost
when the process stops or Telegram is down (a sweep at start and every minute picks up what is
left), order is kept, and a message may be sent twice if the process stops between Telegram's
answer and the cursor's commit (at least once, never reordered).

With several contact-service processes, a chat's worker sends only while its process holds the
chat's lease (``telegram:<conversation id>``, bot/core/leases.py), so one process at a time
sends a chat's messages. A worker that finds the lease held elsewhere looks again every
LEASE_WAIT seconds while the chat has unsent messages: the holder may have ended its round just
before this process's message was stored. A holder killed mid-round leaves the lease to run out.

Telegram's limits: python-telegram-bot's ``AIORateLimiter`` spaces the calls (30 a second
overall); a 429 (``RetryAfter``) waits as long as Telegram says and tries the same message
again; 5xx and network errors back off (1 s doubling to 60 s) and try again; ``Forbidden``
(the user blocked the bot) marks the chat blocked and stops; ``BadRequest`` (Telegram refuses
this message for good) is logged and the message skipped, so one bad message cannot hold up
the rest of the conversation.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Awaitable, Callable, Dict, Optional, Set, TypeVar

from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import AIORateLimiter, ExtBot

from bot import service_hours
from bot.core.models import Message
from channels.telegram.config import TelegramConfig
from channels.telegram.render import telegram_messages
from channels.telegram.store import TelegramStore
from channels.telegram.updates import conversation_id_for

if TYPE_CHECKING:
    from bot.core.conversations import Conversations

logger = logging.getLogger(__name__)
T = TypeVar("T")
PREFIX = conversation_id_for(0)[:3]  # "tg-": the conversations of this channel
FIRST_BACKOFF, MAX_BACKOFF = 1.0, 60.0
SWEEP_INTERVAL = 60.0
LEASE_WAIT = 0.5


class Blocked(Exception):
    """Telegram answered Forbidden: the user blocked the bot (or deleted their account)."""


class Refused(Exception):
    """Telegram refused this request for good (BadRequest)."""


def make_bot(config: TelegramConfig) -> ExtBot:
    # max_retries: the limiter itself waits out a 429 a few times (pausing every call, as
    # Telegram asks) before the sender sees RetryAfter and waits again.
    return ExtBot(config.token, base_url=config.api_url, rate_limiter=AIORateLimiter(max_retries=3))


def _seconds(error: RetryAfter) -> float:
    wait = error._retry_after  # a timedelta; the public property's type depends on a PTB setting
    return max(wait.total_seconds() if isinstance(wait, timedelta) else float(wait), 0.5)


class TelegramSender:
    def __init__(self, service: "Conversations", store: TelegramStore, bot: ExtBot):
        self.service = service
        self.store = store
        self.bot = bot
        self.workers: Dict[str, asyncio.Task] = {}
        self.again: Set[str] = set()
        self._ready = False
        self._sweeper: Optional[asyncio.Task] = None

    # Waking

    def wake(self, message: Message) -> None:
        """A message is waiting (TelegramChannel.deliver)."""
        if message.conversation_id.startswith(PREFIX):
            self.kick(message.conversation_id)

    def kick(self, conversation_id: str) -> None:
        if conversation_id in self.workers:
            self.again.add(conversation_id)  # the worker looks once more before it ends
            return
        self.workers[conversation_id] = asyncio.get_running_loop().create_task(self._work(conversation_id))

    def start(self) -> None:
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())

    async def stop(self) -> None:
        tasks = [t for t in [self._sweeper, *self.workers.values()] if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        try:
            await self.bot.shutdown()
        except Exception:  # shutting down; nothing left to do
            logger.debug("bot shutdown failed", exc_info=True)

    async def sweep(self) -> None:
        for conversation_id in await self.service.db(self.store.chats_with_unsent):
            self.kick(conversation_id)

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:
                logger.exception("telegram outbox sweep failed")
            await asyncio.sleep(SWEEP_INTERVAL)

    async def idle(self) -> None:
        """Wait until no worker is sending (tests, and a clean stop)."""
        while self.workers:
            await asyncio.gather(*list(self.workers.values()), return_exceptions=True)

    # Sending

    async def _work(self, conversation_id: str) -> None:
        backoff = FIRST_BACKOFF
        try:
            while True:
                self.again.discard(conversation_id)
                try:
                    if not await self.service.leases.run_held(f"telegram:{conversation_id}", lambda: self.drain(conversation_id)):
                        await asyncio.sleep(LEASE_WAIT)  # another process is sending this chat's messages
                        if await self.service.db(self.store.has_unsent, conversation_id):
                            self.again.add(conversation_id)
                    backoff = FIRST_BACKOFF
                except asyncio.CancelledError:
                    raise
                except Exception:  # the database (or the lease lost with it), most likely: try again after a pause
                    logger.exception("sending to telegram conversation %s failed; retrying", conversation_id)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF)
                    self.again.add(conversation_id)
                if conversation_id not in self.again:
                    return
        finally:
            self.workers.pop(conversation_id, None)

    async def drain(self, conversation_id: str) -> None:
        """Send what is unsent of one conversation, oldest first."""
        db = self.service.db
        while True:
            chat = await db(self.store.chat, conversation_id)
            if chat is None or chat.blocked_at is not None:
                return
            batch = await db(self.store.unsent, conversation_id, chat.delivered_up_to)
            if not batch:
                return
            for message in batch:
                try:
                    await self.send(chat.chat_id, message)
                except Blocked:
                    logger.info("telegram conversation %s: the user blocked the bot; sending stops", conversation_id)
                    await db(self.store.set_blocked, conversation_id, service_hours.now())
                    return
                except Refused as error:
                    logger.error("telegram refused message %s of %s for good, skipped: %s", message.id, conversation_id, error)
                await db(self.store.delivered, conversation_id, message.id)

    async def send(self, chat_id: int, message: Message) -> None:
        for text, markup in telegram_messages(message):
            await self.call(lambda: self.bot.send_message(chat_id, text, reply_markup=markup))

    async def call(self, request: Callable[[], Awaitable[T]]) -> T:
        """A Bot API call, repeated until Telegram takes it: after 429s as long as it asks, after
        5xx and network errors with backoff. Raises Blocked or Refused when repeating cannot help."""
        backoff = FIRST_BACKOFF
        while True:
            try:
                if not self._ready:
                    await self.bot.initialize()  # getMe: checks the token once
                    self._ready = True
                return await request()
            except RetryAfter as error:
                logger.warning("telegram asks to wait %.1f s", _seconds(error))
                await asyncio.sleep(_seconds(error))
                continue
            except Forbidden as error:
                raise Blocked(str(error)) from error
            except BadRequest as error:
                raise Refused(str(error)) from error
            except InvalidToken as error:
                logger.error("telegram rejects the bot token (TELEGRAM_BOT_TOKEN): %s", error)
            except (NetworkError, TelegramError) as error:  # 5xx, timeouts, connection errors
                logger.warning("telegram unavailable (%s); trying again in %.0f s", error, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    async def best_effort(self, request: Callable[[], Awaitable[T]], what: str) -> Optional[T]:
        """A call that is a courtesy (answering a callback query, "typing…", a note to a group):
        tried once, a failure only logged."""
        try:
            if not self._ready:
                await self.bot.initialize()
                self._ready = True
            return await request()
        except Exception as error:
            logger.warning("telegram %s failed: %s", what, error)
            return None
