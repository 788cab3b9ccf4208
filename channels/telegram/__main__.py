"""Commands for connecting a bot (README "Telegram"); settings from the same environment as
the contact service (TELEGRAM_BOT_TOKEN, TELEGRAM_WEBHOOK_SECRET, TELEGRAM_API_URL).

    python -m channels.telegram set-webhook https://contact.example.com/channels/telegram/webhook
    python -m channels.telegram poll [--to http://127.0.0.1:8080/channels/telegram/webhook]
    python -m channels.telegram delete-webhook
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from telegram import Bot

from bot.http.settings import HttpSettings
from bot.privacy import install_log_masking
from channels.telegram.config import ALLOWED_UPDATES, WEBHOOK_PATH, TelegramConfigError, telegram_config
from channels.telegram.polling import SecretMismatch, poll


async def set_webhook(config, url: str) -> None:
    async with Bot(config.token, base_url=config.api_url) as bot:
        # Updates that arrived while no webhook was set are kept (drop_pending_updates=False).
        await bot.set_webhook(url, secret_token=config.webhook_secret, allowed_updates=ALLOWED_UPDATES,
                              drop_pending_updates=False)
        info = await bot.get_webhook_info()
        print(f"webhook set for @{bot.username}: {info.url} (pending updates: {info.pending_update_count})")


async def delete_webhook(config) -> None:
    async with Bot(config.token, base_url=config.api_url) as bot:
        await bot.delete_webhook(drop_pending_updates=False)
        print(f"webhook deleted for @{bot.username}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m channels.telegram", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    hook = commands.add_parser("set-webhook", help="register the contact service's public webhook URL with Telegram")
    hook.add_argument("url", help=f"public https URL ending in {WEBHOOK_PATH}")
    commands.add_parser("delete-webhook", help="stop webhook delivery (polling does this itself)")
    poller = commands.add_parser("poll", help="long-poll Telegram and forward updates to the local contact service")
    poller.add_argument("--to", help="the webhook to forward to (default: this machine's contact service)")
    poller.add_argument("--timeout", type=int, default=50, help="long-poll seconds (default 50)")
    args = parser.parse_args(argv)
    install_log_masking()  # the updates it forwards are customers' text
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its request lines would print the bot token
    settings = HttpSettings()
    try:
        config = telegram_config()
    except TelegramConfigError as error:
        print(error, file=sys.stderr)
        return 2
    if config is None:
        print("TELEGRAM_BOT_TOKEN is not set", file=sys.stderr)
        return 2
    if args.command == "set-webhook":
        if not args.url.startswith("https://"):
            print("Telegram only delivers to https:// URLs", file=sys.stderr)
            return 2
        asyncio.run(set_webhook(config, args.url))
    elif args.command == "delete-webhook":
        asyncio.run(delete_webhook(config))
    else:
        host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
        target = args.to or f"http://{host}:{settings.port}{WEBHOOK_PATH}"
        try:
            asyncio.run(poll(config, target, timeout=args.timeout))
        except SecretMismatch as error:
            print(error, file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
