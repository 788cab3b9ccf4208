"""The channel's tables (migration ``0010_telegram``): updates seen, and one row per private chat.

``telegram_updates`` makes each update count once: its ``update_id`` is the primary key and the
row is committed with whatever the update caused (the customer's message, a reply), so a
retried delivery finds it and does nothing. ``telegram_chats`` ties a conversation to its chat
and keeps the outbox cursor: every outbound message with a larger id is still to be sent.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, String

from bot.core.time import ShanghaiTime
from bot.core.models import Base


class TelegramUpdate(Base):
    __tablename__ = "telegram_updates"
    update_id = Column(BigInteger, primary_key=True, autoincrement=False)
    kind = Column(String(32), nullable=False)  # text, callback, command, non_text, edited, group, ... (updates.py)
    conversation_id = Column(String(80), ForeignKey("conversations.id"), index=True)  # none for groups and unknown kinds
    chat_id = Column(BigInteger, index=True)
    received_at = Column(ShanghaiTime, nullable=False)


class TelegramChat(Base):
    __tablename__ = "telegram_chats"
    conversation_id = Column(String(80), ForeignKey("conversations.id"), primary_key=True)
    chat_id = Column(BigInteger, nullable=False, unique=True)  # a private chat's id is the user's id
    user_id = Column(BigInteger, nullable=False)
    delivered_up_to = Column(Integer, nullable=False, default=0)  # the last message id sent to Telegram
    blocked_at = Column(ShanghaiTime)  # the user blocked the bot: nothing is sent until they write again
    created_at = Column(ShanghaiTime, nullable=False)
    linked_at = Column(ShanghaiTime)  # last linked to a verified customer (the conversation's customer_id)
