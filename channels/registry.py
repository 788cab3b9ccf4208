"""The channels the contact service installs. Adding a channel is its package under
``channels/`` and one line here (docs/architecture.md, "Channels as plug-ins")."""

from __future__ import annotations

from typing import List, Type

from sqlalchemy.engine import Engine

from bot.core import db
from bot.core.channel import Channel
from channels.email.channel import EmailChannel
from channels.telegram.channel import TelegramChannel
from channels.web.channel import WebChannel

CHANNELS: List[Type[Channel]] = [
    WebChannel,
    TelegramChannel,
    EmailChannel,
]


def migrate(engine: Engine) -> None:
    """The core's migrations and every channel's own."""
    db.migrate(engine, [channel.migrations for channel in CHANNELS if channel.migrations])
