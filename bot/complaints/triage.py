"""Suggesting a complaint's category and spotting urgent cases, from words in ``complaints.yml``."""

from __future__ import annotations

import re
from typing import Iterable, Optional

from bot import knowledge
from bot.complaints.models import CATEGORIES


def _mentions(text: str, word: str) -> bool:
    if word.isascii():  # whole words only: "fee" is not in "feedback"
        return re.search(rf"(?<![a-z]){re.escape(word.lower())}(?![a-z])", text.lower()) is not None
    return word in text


def _matches(text: str, words: Iterable[str]) -> int:
    return sum(1 for word in words if _mentions(text, word))


def suggest_category(text: str) -> str:
    """The category whose words the text mentions most; ``other`` when none."""
    categories = knowledge.load("complaints")["categories"]
    scores = {name: _matches(text, categories[name]["words"]) for name in CATEGORIES}
    best = max(CATEGORIES, key=lambda name: scores[name])  # ties: the spec's order
    return best if scores[best] else "other"


def category_from_answer(text: str) -> Optional[str]:
    """The category a customer picked: a key, a label in either language, or a number 1–4."""
    answer = text.strip().lower()
    categories = knowledge.load("complaints")["categories"]
    for number, name in enumerate(CATEGORIES, start=1):
        labels = {name, categories[name]["zh"].lower(), categories[name]["en"].lower(), str(number)}
        if answer in labels:
            return name
    return None


def is_urgent(text: str) -> bool:
    """Fraud, account takeover, money leaving an account, or threats of harm."""
    return _matches(text, knowledge.load("complaints")["urgent_words"]) > 0


def category_label(category: str, language: str) -> str:
    return knowledge.load("complaints")["categories"][category][language]
