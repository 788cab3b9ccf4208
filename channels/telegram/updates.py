"""What a Telegram update is, read defensively from its JSON (Bot API ``Update``).

The webhook must never fail on an update it does not expect, so this reads plain dicts with
checks rather than parsing into python-telegram-bot's objects (which reject some shapes and
would make a new Bot API field a crash). Anything unrecognised becomes kind ``other``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, Optional

# Kinds, each handled in inbound.py:
TEXT = "text"  # a text message in a private chat
COMMAND = "command"  # /start, /start <code>, /link <code> in a private chat
CALLBACK = "callback"  # a tap on an inline keyboard button
NON_TEXT = "non_text"  # a sticker, photo, voice note, document, location... in a private chat
EDITED = "edited"  # an edited message (private chat)
GROUP = "group"  # anything in a group or supergroup
CHANNEL = "channel"  # posts in a channel the bot was added to
BLOCKED = "blocked"  # my_chat_member: the user blocked the bot (private chat)
UNBLOCKED = "unblocked"  # my_chat_member: the user (re)started the bot
OTHER = "other"  # everything else (new update kinds, bots, service messages)

CHANNEL_COMMANDS = ("start", "link")  # handled by the channel itself; other /commands are text
_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@[A-Za-z0-9_]{1,64})?(?:\s+(.*))?$", re.DOTALL)


@dataclass
class Incoming:
    update_id: int
    kind: str
    detail: str = ""  # e.g. which non-text content or unknown update kind (for the log and the row)
    user_id: Optional[int] = None
    chat_id: Optional[int] = None
    language_code: Optional[str] = None
    text: Optional[str] = None  # text messages; commands: the argument
    command: Optional[str] = None
    callback_id: Optional[str] = None
    callback_data: Optional[str] = None

    @property
    def conversation_id(self) -> Optional[str]:
        return conversation_id_for(self.user_id) if self.user_id is not None else None


def conversation_id_for(user_id: int) -> str:
    """One conversation per Telegram user (their private chat with the bot)."""
    return f"tg-{user_id}"


def _dict(value: Any) -> Dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> Optional[str]:
    return value if isinstance(value, str) else None


def classify(update: Dict[str, Any]) -> Incoming:
    """The update's kind and the parts the channel uses. ``update["update_id"]`` is an int."""
    update_id = update["update_id"]
    if isinstance(update.get("message"), dict):
        return _message(update_id, update["message"])
    if isinstance(update.get("edited_message"), dict):
        incoming = _message(update_id, update["edited_message"])
        if incoming.kind in (TEXT, COMMAND, NON_TEXT):
            incoming.kind, incoming.detail, incoming.text = EDITED, "edited_message", None
        return incoming
    if isinstance(update.get("callback_query"), dict):
        query = update["callback_query"]
        sender = _dict(query.get("from"))
        chat = _dict(_dict(query.get("message")).get("chat"))
        user_id = _int(sender.get("id"))
        if user_id is None or sender.get("is_bot") or _str(query.get("id")) is None:
            return Incoming(update_id, OTHER, "callback_query")
        if chat and chat.get("type") != "private":
            return Incoming(update_id, GROUP, "callback_query", user_id, _int(chat.get("id")), callback_id=query["id"])
        return Incoming(update_id, CALLBACK, "callback_query", user_id, _int(chat.get("id")) or user_id,
                        _str(sender.get("language_code")), callback_id=query["id"], callback_data=_str(query.get("data")))
    if isinstance(update.get("my_chat_member"), dict):
        change = update["my_chat_member"]
        chat, sender = _dict(change.get("chat")), _dict(change.get("from"))
        status = _dict(change.get("new_chat_member")).get("status")
        user_id = _int(sender.get("id"))
        if chat.get("type") == "private" and user_id is not None and status in ("kicked", "member"):
            return Incoming(update_id, BLOCKED if status == "kicked" else UNBLOCKED, "my_chat_member", user_id,
                            _int(chat.get("id")) or user_id, _str(sender.get("language_code")))
        return Incoming(update_id, OTHER, "my_chat_member", chat_id=_int(chat.get("id")))
    if isinstance(update.get("channel_post"), dict) or isinstance(update.get("edited_channel_post"), dict):
        post = _dict(update.get("channel_post") or update.get("edited_channel_post"))
        return Incoming(update_id, CHANNEL, "channel_post", chat_id=_int(_dict(post.get("chat")).get("id")))
    known = next((key for key in update if key != "update_id"), "empty")
    return Incoming(update_id, OTHER, str(known)[:24])


def _message(update_id: int, message: Dict[str, Any]) -> Incoming:
    chat, sender = _dict(message.get("chat")), _dict(message.get("from"))
    chat_id, chat_type = _int(chat.get("id")), chat.get("type")
    user_id = _int(sender.get("id"))
    language = _str(sender.get("language_code"))
    if chat_type in ("group", "supergroup"):
        return Incoming(update_id, GROUP, str(chat_type), user_id, chat_id, language)
    if chat_type == "channel":
        return Incoming(update_id, CHANNEL, "channel", chat_id=chat_id)
    if chat_type != "private" or chat_id is None or user_id is None or sender.get("is_bot"):
        return Incoming(update_id, OTHER, "message", chat_id=chat_id)
    text = _str(message.get("text"))
    if text is None:
        content = next((key for key in NON_TEXT_CONTENT if key in message), "unknown")
        return Incoming(update_id, NON_TEXT, content, user_id, chat_id, language)
    command = _COMMAND.match(text.strip())
    if command and command.group(1).lower() in CHANNEL_COMMANDS:
        return Incoming(update_id, COMMAND, command.group(1).lower(), user_id, chat_id, language,
                        text=(command.group(2) or "").strip(), command=command.group(1).lower())
    if text.lstrip().startswith("/"):
        # Any other /command is read as words ("/help" → "help"): only a tap on one of the bot's
        # own buttons (a callback) may send the assistant an intent payload such as /rate{...}.
        text = " ".join(filter(None, [command.group(1).replace("_", " "), command.group(2)])) if command \
            else text.lstrip().lstrip("/")
    return Incoming(update_id, TEXT, "text", user_id, chat_id, language, text=text)


NON_TEXT_CONTENT = (
    "sticker", "photo", "voice", "video_note", "video", "audio", "animation", "document", "location",
    "venue", "contact", "poll", "dice", "game", "story", "invoice", "new_chat_members", "pinned_message",
)
