"""The channel's settings, checked once: read from ``bot.contact.settings.Settings`` (environment
``TELEGRAM_*``), so the contact service, the commands and the tests read them in one place."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from bot.contact.settings import Settings

# Telegram's own rule for secret_token (setWebhook): 1–256 characters A-Z, a-z, 0-9, _ and -.
SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
WEBHOOK_PATH = "/channels/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# The update kinds the bot asks Telegram for (setWebhook, getUpdates); the rest are never sent.
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member", "channel_post"]


class TelegramConfigError(ValueError):
    """The token is set but the rest is not usable; the contact service refuses to start."""


@dataclass(frozen=True)
class TelegramConfig:
    token: str
    webhook_secret: str
    api_url: str
    bot_username: Optional[str]

    def deep_link(self, code: str) -> Optional[str]:
        """``https://t.me/<bot>?start=<code>``: opens the chat and sends ``/start <code>``."""
        return f"https://t.me/{self.bot_username}?start={code}" if self.bot_username else None


def telegram_config(settings: Settings) -> Optional[TelegramConfig]:
    """The channel's configuration, or ``None`` when no token is set (the channel is off)."""
    token = settings.telegram_bot_token.strip()
    if not token:
        return None
    secret = settings.telegram_webhook_secret
    if not secret:
        raise TelegramConfigError("TELEGRAM_WEBHOOK_SECRET is required when TELEGRAM_BOT_TOKEN is set")
    if not SECRET.fullmatch(secret):
        raise TelegramConfigError("TELEGRAM_WEBHOOK_SECRET must be 1–256 characters of A–Z, a–z, 0–9, _ and -")
    return TelegramConfig(token, secret, settings.telegram_api_url.strip() or "https://api.telegram.org/bot",
                          settings.telegram_bot_username.strip() or None)
