"""The Telegram channel's count for ``/metrics``: chats with replies not yet delivered."""

from __future__ import annotations

from typing import Iterable

from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from bot.core.models import Message
from channels.telegram.models import TelegramChat


def counts(session: Session) -> Iterable[Metric]:
    count = session.execute(
        select(func.count(distinct(TelegramChat.conversation_id)))
        .join(Message, Message.conversation_id == TelegramChat.conversation_id)
        .where(TelegramChat.blocked_at.is_(None), Message.direction == "out", Message.id > TelegramChat.delivered_up_to)
    ).scalar_one()
    return (GaugeMetricFamily("evergreen_telegram_chats_unsent", "Telegram chats with replies not yet delivered", value=count),)
