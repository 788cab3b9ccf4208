"""Polling mode, for running without a public HTTPS address (a laptop, a test machine).

Telegram sends nothing while a webhook is set, so polling first deletes it (pending updates
are kept). Then it long-polls getUpdates and posts each update, unchanged, to the contact
service's own webhook with the secret, so both modes take exactly the same path. The offset
(which tells Telegram an update is done) moves past an update only after the webhook answered
200, i.e. after the update was committed; if the contact service is down the same update is
posted again (an update the service will not read is answered 200 too, and logged there); a 403
means the two sides have different secrets and stops the poller.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from typing import Any, Dict, List, Optional

import httpx
from telegram import Bot
from telegram.error import NetworkError, RetryAfter, TelegramError

from channels.telegram.config import ALLOWED_UPDATES, SECRET_HEADER, TelegramConfig

logger = logging.getLogger(__name__)


class SecretMismatch(RuntimeError):
    """The contact service refused the secret (403): TELEGRAM_WEBHOOK_SECRET differs."""


async def _updates(bot: Bot, offset: Optional[int], timeout: int) -> List[Dict[str, Any]]:
    """Raw updates (JSON as Telegram sent it), so the webhook sees exactly what it would get."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PTB suggests bot.get_updates, which returns parsed objects
        return await bot.do_api_request(
            "getUpdates", api_kwargs={"offset": offset, "timeout": timeout, "allowed_updates": ALLOWED_UPDATES},
            read_timeout=timeout + 10,
        )


async def forward(http: httpx.AsyncClient, url: str, secret: str, update: Dict[str, Any]) -> bool:
    """Post one update to the webhook; ``True`` once it is done with (stored, or unreadable)."""
    try:
        response = await http.post(url, json=update, headers={SECRET_HEADER: secret})
    except httpx.HTTPError as error:
        logger.warning("contact service unreachable at %s (%s); retrying", url, error)
        return False
    if response.status_code == 200:
        return True
    if response.status_code == 403:
        raise SecretMismatch("the contact service refused the secret: set the same TELEGRAM_WEBHOOK_SECRET for both")
    logger.warning("contact service answered %s for update %s; retrying", response.status_code, update.get("update_id"))
    return False


async def poll(config: TelegramConfig, webhook_url: str, timeout: int = 50, retry_pause: float = 2.0,
               stop: Optional[asyncio.Event] = None) -> None:
    """Forward updates until ``stop`` is set (or forever)."""
    stop = stop or asyncio.Event()
    async with Bot(config.token, base_url=config.api_url) as bot:
        await bot.delete_webhook(drop_pending_updates=False)
        logger.info("webhook deleted; polling Telegram and forwarding to %s", webhook_url)
        offset: Optional[int] = None
        async with httpx.AsyncClient(timeout=60) as http:
            while not stop.is_set():
                try:
                    batch = await _updates(bot, offset, timeout)
                except RetryAfter as error:
                    await asyncio.sleep(error._retry_after.total_seconds())
                    continue
                except (NetworkError, TelegramError) as error:
                    logger.warning("getUpdates failed (%s); retrying", error)
                    await asyncio.sleep(retry_pause)
                    continue
                for update in batch:
                    while not await forward(http, webhook_url, config.webhook_secret, update):
                        await asyncio.sleep(retry_pause)
                        if stop.is_set():
                            return
                    offset = update["update_id"] + 1
