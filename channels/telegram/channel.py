"""The Telegram channel as the core sees it: conversations of kind ``telegram``, installed when
``TELEGRAM_BOT_TOKEN`` is set (channels/telegram/config.py)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional

from sanic import Sanic

from bot.core.channel import Capabilities, Channel, ConversationKind
from bot.core.models import Message
from bot.http import routes
from bot.http.host import Host
from channels.telegram import metrics, webhook
from channels.telegram.config import TelegramConfig, TelegramConfigError, telegram_config
from channels.telegram.inbound import TelegramInbound
from channels.telegram.outbound import TelegramSender, make_bot
from channels.telegram.store import TelegramStore

class TelegramChannel(Channel):
    name = "telegram"
    kinds = (ConversationKind("telegram", {"zh": "Telegram", "en": "Telegram"}),)
    capabilities = Capabilities(live_chat=True)
    migrations = Path(__file__).parent / "migrations"

    def __init__(self) -> None:
        self.config: Optional[TelegramConfig] = None
        self.sender: Optional[TelegramSender] = None
        self.inbound: Optional[TelegramInbound] = None

    def install(self, app: Sanic, host: Host) -> None:
        """The webhook route and the sender's start and stop, when the channel is on; raises
        TelegramConfigError when the token is set without a valid webhook secret."""
        self.config = telegram_config()
        if self.config is None:
            return
        logging.getLogger("httpx").setLevel(logging.WARNING)  # its request lines name the URL, which holds the token
        conversations = host.conversations
        store = TelegramStore(conversations.store.sessions)
        self.sender = TelegramSender(conversations, store, make_bot(self.config))
        self.inbound = TelegramInbound(conversations, store, self.sender, self.config)
        app.ctx.telegram = self.inbound  # the webhook reads it there

        async def start(app, _loop) -> None:  # after the app's own start, which migrates
            self.sender.start()  # the first sweep sends what an earlier run left unsent

        async def stop(app, _loop) -> None:
            await self.inbound.stop()
            await self.sender.stop()

        app.register_listener(start, "before_server_start")
        app.register_listener(stop, "before_server_stop")
        app.blueprint(routes.blueprint("telegram", webhook.ROUTES))

    async def deliver(self, message: Message) -> None:
        if self.sender is not None:
            self.sender.wake(message)

    def link_offer(self) -> Optional[Dict[str, str]]:
        return {"bot": self.config.bot_username} if self.config and self.config.bot_username else None

    def link_url(self, code: str) -> Optional[str]:
        return self.config.deep_link(code) if self.config else None

    def metrics(self, session) -> Iterable[Any]:
        return metrics.counts(session)

    @staticmethod
    def problems(environ: Mapping[str, str] = os.environ) -> List[str]:
        try:
            telegram_config(environ)
        except TelegramConfigError as error:
            return [str(error)]
        return []

    @staticmethod
    def secrets(environ: Mapping[str, str] = os.environ) -> Dict[str, str]:
        on = environ.get("TELEGRAM_BOT_TOKEN", "").strip()
        return {"TELEGRAM_WEBHOOK_SECRET": environ.get("TELEGRAM_WEBHOOK_SECRET", "")} if on else {}
