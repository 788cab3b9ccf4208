"""Telegram as the tests play it: a user in a private chat sending the Bot API's own update JSON
to the webhook, and the service's settings pointing at the capture server (``telegram_api``)."""

from __future__ import annotations

import itertools
import json
import time
import urllib.error
import urllib.request
from typing import Any, Dict, List, Optional, Tuple

from tests.support.system import IN_HOURS, service_env
from tests.support.telegram_api import BotApi, Call

TOKEN = "123456789:AAHevergreen-test-token_0123456789"
SECRET = "evergreen-webhook-secret_0123"
BOT_USERNAME = "EvergreenTestBot"
WEBHOOK = "/channels/telegram/webhook"
_update_ids = itertools.count(700000000)
_message_ids = itertools.count(1)


def next_update_id() -> int:
    return next(_update_ids)


def telegram_settings(bot_api: BotApi) -> Dict[str, str]:
    """The channel switched on, its Bot API the capture server."""
    return {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": SECRET, "TELEGRAM_API_URL": bot_api.base_url,
            "TELEGRAM_BOT_USERNAME": BOT_USERNAME}


def telegram_env(database_url: str, bot_api: BotApi) -> Dict[str, str]:
    return {**service_env(database_url), "EVERGREEN_CLOCK": IN_HOURS, **telegram_settings(bot_api)}


def post_update(base_url: str, update: Any = None, secret: Optional[str] = SECRET, raw: Optional[bytes] = None) -> Tuple[int, Dict[str, Any]]:
    """POST to the webhook as Telegram does (JSON body, the secret in its header)."""
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    data = raw if raw is not None else json.dumps(update).encode()
    request = urllib.request.Request(base_url + WEBHOOK, data=data, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


class TelegramUser:
    """A Telegram user in a private chat with the bot: builds the updates Telegram would send."""

    def __init__(self, system: Any, api: BotApi, user_id: int, first_name: str = "Wei", language_code: str = "zh-hans"):
        self.base_url = getattr(system, "contact_url", system)  # an Assistant, or the contact service's URL
        self.api = api
        self.id = user_id
        self.user = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": language_code}
        self.chat = {"id": user_id, "type": "private", "first_name": first_name}

    @property
    def conversation_id(self) -> str:
        return f"tg-{self.id}"

    def message(self, **content) -> Dict[str, Any]:
        return {"update_id": next_update_id(), "message": {"message_id": next(_message_ids), "from": self.user,
                                                            "chat": self.chat, "date": int(time.time()), **content}}

    def post(self, update: Dict[str, Any]) -> Dict[str, Any]:
        status, body = post_update(self.base_url, update)
        assert status == 200, body
        return update

    def send(self, text: str) -> Dict[str, Any]:
        return self.post(self.message(text=text))

    def tap(self, call: Call, title: str) -> Dict[str, Any]:
        """Tap the button ``title`` under a message the bot sent."""
        buttons = [b for row in call.params["reply_markup"]["inline_keyboard"] for b in row]
        [button] = [b for b in buttons if b["text"] == title]
        return self.post(self.callback(button["callback_data"]))

    def callback(self, data: str) -> Dict[str, Any]:
        return {"update_id": next_update_id(), "callback_query": {
            "id": f"cq{next(_message_ids)}", "from": self.user, "chat_instance": "-7061934576",
            "message": {"message_id": 1, "date": int(time.time()), "chat": self.chat, "text": "…"}, "data": data}}

    # What the bot sent to this chat

    def calls(self) -> List[Call]:
        return self.api.calls_to("sendMessage", self.id)

    def texts(self) -> List[str]:
        return self.api.texts_to(self.id)

    def wait_for(self, needle: str, timeout: float = 60) -> Call:
        """The first message to this chat containing ``needle`` (waits for it)."""
        return self.api.wait_for(lambda: next((c for c in self.calls() if needle in c.params["text"]), None),
                                 timeout, f"{needle!r} to {self.id}")

    def quiet(self, seconds: float = 1.5) -> List[str]:
        """Wait until nothing more was sent for ``seconds``; the texts sent."""
        count = -1
        while count != len(self.texts()):
            count = len(self.texts())
            time.sleep(seconds)
        return self.texts()
