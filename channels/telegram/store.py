"""The channel's database work (synchronous, called off the event loop like ConversationStore).

Each method is one transaction, so what an update causes is committed with its
``telegram_updates`` row or not at all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Callable, List, Optional, Sequence, Tuple

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from bot.core.models import Conversation, Message
from channels.telegram.models import TelegramChat, TelegramUpdate

CHANNEL = "telegram"


def system_message(conversation_id: str, text: str, sender: str = "system") -> Message:
    """An outbound message not answering a particular customer message (stored with an update)."""
    return Message(conversation_id=conversation_id, direction="out", sender=sender, text=text, status="sent")


def _committed_once(session) -> bool:
    """Commit what an update causes; ``False`` (nothing stored) when its update id is there already."""
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return False
    return True


class TelegramStore:
    def __init__(self, sessions: sessionmaker):
        self.sessions = sessions

    def seen(self, update_id: int) -> bool:
        with self.sessions() as session:
            return session.get(TelegramUpdate, update_id) is not None

    def open_chat(self, conversation_id: str, chat_id: int, user_id: int, language: str, now: datetime,
                  notice: Callable[[str], str]) -> Tuple[Conversation, Optional[Message]]:
        """The user's conversation and chat, created on first contact together with the privacy
        notice (in the conversation's language), so the notice is stored exactly once and before
        anything the customer is answered. A user who blocked the bot and writes again is
        unblocked; what was said meanwhile is not sent (the cursor moves to the end).
        Returns (conversation, the notice if it was just stored)."""
        with self.sessions() as session:
            conversation = session.get(Conversation, conversation_id)
            chat = session.get(TelegramChat, conversation_id)
            if chat is not None:
                if chat.blocked_at is not None:
                    chat.blocked_at = None
                    chat.delivered_up_to = self._last_message_id(session, conversation_id)
                    session.commit()
                return conversation, None
            if conversation is None:
                conversation = Conversation(id=conversation_id, channel=CHANNEL, owner="bot", language=language)
                session.add(conversation)
            session.add(TelegramChat(conversation_id=conversation_id, chat_id=chat_id, user_id=user_id,
                                     delivered_up_to=self._last_message_id(session, conversation_id), created_at=now))
            told = system_message(conversation_id, notice(conversation.language or language))
            session.add(told)
            try:
                session.commit()
            except IntegrityError:  # the same user's first two updates at once: the other one won
                session.rollback()
                return session.get(Conversation, conversation_id), None
            return conversation, told

    @staticmethod
    def _last_message_id(session, conversation_id: str) -> int:
        return session.execute(select(func.max(Message.id)).where(Message.conversation_id == conversation_id)).scalar() or 0

    def record(self, row: TelegramUpdate, replies: Sequence[Message] = ()) -> bool:
        """Record an update with the replies it causes; ``False`` (nothing stored) for a duplicate."""
        with self.sessions() as session:
            session.add(row)
            session.add_all(replies)
            return _committed_once(session)

    def group_told(self, chat_id: int) -> bool:
        """Whether a group was already asked to message the bot privately (its earlier updates)."""
        with self.sessions() as session:
            query = select(TelegramUpdate.update_id).where(TelegramUpdate.chat_id == chat_id, TelegramUpdate.kind == "group")
            return session.execute(query.limit(1)).first() is not None

    def link(self, conversation_id: str, customer_id: str, row: TelegramUpdate, reply: Message, now: datetime) -> bool:
        """Link the conversation to a verified customer, with the update and the reply saying so."""
        with self.sessions() as session:
            session.add(row)
            session.add(reply)
            session.get(Conversation, conversation_id).customer_id = customer_id
            session.get(TelegramChat, conversation_id).linked_at = now
            return _committed_once(session)

    # The outbox (outbound.py)

    def chat(self, conversation_id: str) -> Optional[TelegramChat]:
        with self.sessions() as session:
            return session.get(TelegramChat, conversation_id)

    def unsent(self, conversation_id: str, after: int, limit: int = 20) -> List[Message]:
        with self.sessions() as session:
            query = (select(Message)
                     .where(Message.conversation_id == conversation_id, Message.direction == "out", Message.id > after)
                     .order_by(Message.id).limit(limit))
            return list(session.execute(query).scalars())

    def has_unsent(self, conversation_id: str) -> bool:
        """Whether the chat (not blocked) has outbound messages not sent yet."""
        with self.sessions() as session:
            query = (select(Message.id).join(TelegramChat, TelegramChat.conversation_id == Message.conversation_id)
                     .where(Message.conversation_id == conversation_id, TelegramChat.blocked_at.is_(None),
                            Message.direction == "out", Message.id > TelegramChat.delivered_up_to))
            return session.execute(query.limit(1)).first() is not None

    def delivered(self, conversation_id: str, message_id: int) -> None:
        """Move the cursor past a sent message (never back)."""
        with self.sessions() as session:
            session.execute(update(TelegramChat)
                            .where(TelegramChat.conversation_id == conversation_id, TelegramChat.delivered_up_to < message_id)
                            .values(delivered_up_to=message_id))
            session.commit()

    def set_blocked(self, conversation_id: str, when: Optional[datetime]) -> None:
        """The user blocked the bot (``when``) or started it again (``None``: the cursor moves to
        the end, so what was said while blocked is not sent all at once)."""
        with self.sessions() as session:
            chat = session.get(TelegramChat, conversation_id)
            if chat is None or (chat.blocked_at is None) == (when is None):
                return
            chat.blocked_at = when
            if when is None:
                chat.delivered_up_to = self._last_message_id(session, conversation_id)
            session.commit()

    def chats_with_unsent(self) -> List[str]:
        """Conversations whose chat has outbound messages not yet sent (the sweep at start)."""
        with self.sessions() as session:
            query = (select(TelegramChat.conversation_id)
                     .join(Message, Message.conversation_id == TelegramChat.conversation_id)
                     .where(TelegramChat.blocked_at.is_(None), Message.direction == "out",
                            Message.id > TelegramChat.delivered_up_to)
                     .distinct())
            return list(session.execute(query).scalars())
