"""Decides which language (``zh`` or ``en``) a reply is written in.

The reply follows the customer's latest message. Messages that carry no language of their own
(a button payload, "ok", an emoji, a product code) keep the conversation's current language.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Optional

from bot.service_hours import SHANGHAI

SUPPORTED = ("zh", "en")
DEFAULT_LANGUAGE = "zh"

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
# Written the same in both languages, so they tell nothing: product codes ("EG-MM01"),
# references ("C20261206-483928", "CB…", "AP…", "Q…"), email addresses and web addresses.
_NO_LANGUAGE = re.compile(
    r"\b(?:EG-)?[A-Z]{2}\d{2}\b"
    r"|\b[A-Z]{1,2}\s*\d{8}\s*-?\s*\d{4,7}\b"
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
    r"|\b(?:https?://|www\.)\S+",
    re.IGNORECASE,
)
# What Chinese customers type in Latin letters as often as English ones: acknowledgements,
# laughter and hesitation ("ok", "okk", "haha", "emmm", "hhh").
_INTERJECTION = re.compile(r"(?:o+k+(?:ay)?|(?:ok)+|k+|(?:ha|he|hi|xi)+h?|h+m*|e*m+|lol|x+d+|nb)", re.IGNORECASE)


def detect_language(text: Optional[str]) -> Optional[str]:
    """``zh``/``en`` for a message written in that language, ``None`` if it does not tell.

    A mixed message counts as Chinese when it has at least as many Chinese characters as
    English words ("我想redeem货币宝"), as English otherwise ("I want to buy 货币宝"). A lone
    Latin token says English only when it is a word of 4 letters or more, not an interjection.
    """
    if not text or text.startswith("/"):
        return None
    text = _NO_LANGUAGE.sub(" ", text)
    if _INTERJECTION.fullmatch(text.strip(" \t\n.,!?~。，！？～")):
        return None
    chinese_chars = len(_CJK.findall(text))
    latin_words = len(_LATIN_WORD.findall(text))
    if chinese_chars and chinese_chars >= latin_words:
        return "zh"
    if latin_words >= 2 or (latin_words == 1 and not chinese_chars and len(text.strip()) > 3):
        return "en"
    if chinese_chars:
        return "zh"
    return None


def reply_language(text: Optional[str], current: Optional[str]) -> str:
    """The language to answer ``text`` in, given the conversation's ``current`` language."""
    detected = detect_language(text)
    if detected:
        return detected
    if current in SUPPORTED:
        return current
    return "en" if text and _LATIN_WORD.search(text) else DEFAULT_LANGUAGE


def join(items, lang: str) -> str:
    """Join a list the way each language writes lists (、 in Chinese, commas in English)."""
    return ("、" if lang == "zh" else ", ").join(items)


def sentences(parts, lang: str) -> str:
    """Join sentences: Chinese runs them together, English puts a space between them."""
    return ("" if lang == "zh" else " ").join(parts)


_WEEKDAYS_ZH = "一二三四五六日"


def format_moment(moment: datetime, lang: str) -> str:
    """A deadline or appointment time as a customer reads it, in Beijing time."""
    local = moment.astimezone(SHANGHAI)
    if lang == "zh":
        return f"{local.year}年{local.month}月{local.day}日（周{_WEEKDAYS_ZH[local.weekday()]}）{local:%H:%M}"
    return f"{local:%a} {local.day} {local:%b %Y}, {local:%H:%M} Beijing time"


def format_window(start: datetime, end: datetime, lang: str) -> str:
    """A callback window or meeting ("2026年12月1日（周二）15:00–15:30")."""
    local_start, local_end = start.astimezone(SHANGHAI), end.astimezone(SHANGHAI)
    if lang == "zh":
        return f"{format_moment(local_start, lang)}–{local_end:%H:%M}"
    return f"{local_start:%a} {local_start.day} {local_start:%b %Y}, {local_start:%H:%M}–{local_end:%H:%M} Beijing time"
