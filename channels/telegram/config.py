"""The channel's settings, checked once: read from the environment (``TELEGRAM_*``), so the
contact service, the commands and the tests read them in one place.

The channel is off without ``TELEGRAM_BOT_TOKEN``. ``TELEGRAM_WEBHOOK_SECRET`` is required with it
(1–256 of A–Z a–z 0–9 _ -); ``TELEGRAM_API_URL`` is python-telegram-bot's base_url (tests point it
at a local capture server); ``TELEGRAM_BOT_USERNAME`` makes deep links t.me/<name>?start=."""

from __future__ import annotations

import re
from dataclasses import dataclass
import os
from typing import Mapping, Optional

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


def telegram_config(environ: Mapping[str, str] = os.environ) -> Optional[TelegramConfig]:
    """The channel's configuration, or ``None`` when no token is set (the channel is off)."""
    token = environ.get("TELEGRAM_BOT_TOKEN", "").strip()
    if not token:
        return None
    secret = environ.get("TELEGRAM_WEBHOOK_SECRET", "")
    if not secret:
        raise TelegramConfigError("TELEGRAM_WEBHOOK_SECRET is required when TELEGRAM_BOT_TOKEN is set")
    if not SECRET.fullmatch(secret):
        raise TelegramConfigError("TELEGRAM_WEBHOOK_SECRET must be 1–256 characters of A–Z, a–z, 0–9, _ and -")
    return TelegramConfig(token, secret, environ.get("TELEGRAM_API_URL", "").strip() or "https://api.telegram.org/bot",
                          environ.get("TELEGRAM_BOT_USERNAME", "").strip().lstrip("@") or None)
