"""A stored outbound message as Telegram messages: plain text (no parse mode, so nothing a
customer or agent typed can be read as markup), the risk disclosure kept with the answer,
split at Telegram's 4096-character limit, and Rasa's buttons as an inline keyboard.

Callback data is limited to 64 bytes, so a button carries only a reference to the stored
message and the button's place in it (``b<message id>.<index>``); the payload is looked up
when the customer taps it (inbound.py), and only buttons of the customer's own conversation count.
"""

from __future__ import annotations

import re
from typing import List, Optional, Tuple

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.core.models import Message

MAX_TEXT = 4096  # Telegram's limit for one message's text
_CALLBACK = re.compile(r"b(\d{1,18})\.(\d{1,2})")


def callback_data(message_id: int, index: int) -> str:
    return f"b{message_id}.{index}"


def parse_callback_data(data: Optional[str]) -> Optional[Tuple[int, int]]:
    """(message id, button index) from a button's callback data, or ``None`` if it is not ours."""
    match = _CALLBACK.fullmatch(data or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def full_text(message: Message) -> str:
    """The text as the widget shows it, with the disclosure under the answer."""
    return f"{message.text}\n\n{message.disclosure}" if message.disclosure else message.text


def split_text(text: str, limit: int = MAX_TEXT) -> List[str]:
    """Parts of at most ``limit`` characters, cut at a paragraph, line or sentence end when one
    is in the second half of the part, else at the limit."""
    parts: List[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"), *(window.rfind(mark) + 1 for mark in ("。", ". ", "！", "？")))
        if cut < limit // 2:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip("\n")
    parts.append(rest)
    return [part for part in parts if part.strip()] or [text[:limit] or "…"]


def keyboard(message: Message) -> Optional[InlineKeyboardMarkup]:
    """Rasa's buttons as inline buttons: short ones (a 1–5 rating) in one row, others one per row."""
    buttons = [b for b in (message.buttons or []) if isinstance(b, dict) and b.get("title")]
    if not buttons:
        return None
    inline = [InlineKeyboardButton(str(b["title"])[:64], callback_data=callback_data(message.id, i))
              for i, b in enumerate(message.buttons or []) if isinstance(b, dict) and b.get("title")]
    if len(inline) <= 8 and all(len(b.text) <= 3 for b in inline):
        return InlineKeyboardMarkup([inline])
    return InlineKeyboardMarkup([[b] for b in inline])


def telegram_messages(message: Message) -> List[Tuple[str, Optional[InlineKeyboardMarkup]]]:
    """(text, keyboard) for each Telegram message one stored message becomes; the keyboard goes
    with the last part, under the text it belongs to."""
    parts = split_text(full_text(message))
    markup = keyboard(message)
    return [(part, markup if i == len(parts) - 1 else None) for i, part in enumerate(parts)]
