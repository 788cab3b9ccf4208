"""Masking of personal numbers (spec: masked wherever they are stored or logged)."""

from __future__ import annotations

import re
from typing import List, Tuple

# Mainland resident ID (18 characters, the last may be X), bank cards (16–19 digits, spaces or
# dashes allowed between groups), mainland mobile numbers (11 digits starting 1[3-9], maybe
# written +86 139 1234 5678).
_ID_CARD = re.compile(r"(?<!\d)(\d{6})\d{8}(\d{3}[\dXx])(?!\d)")
_BANK_CARD = re.compile(r"(?<!\d)(?:\d[ -]?){15,18}\d(?!\d)")
_MOBILE = re.compile(r"(?<!\d)(?:(?:\+|00)?86[ -]?)?(1[3-9]\d)[ -]?(\d{4})[ -]?(\d{4})(?!\d)")


def _mask_card(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return f"{digits[:4]} **** **** {digits[-4:]}"


def mask_personal_numbers(text: str) -> str:
    """Keep the first and last digits of ID, card and mobile numbers; star out the middle."""
    text = _ID_CARD.sub(lambda m: f"{m.group(1)}********{m.group(2)}", text)
    text = _BANK_CARD.sub(_mask_card, text)
    return _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)


def mobile_numbers(text: str) -> List[Tuple[str, str]]:
    """The mobile numbers in ``text`` as (11 digits, masked form), before it is masked."""
    text = _BANK_CARD.sub(" ", _ID_CARD.sub(" ", text))  # a card or ID number is no phone number
    return [(m.group(1) + m.group(2) + m.group(3), f"{m.group(1)}****{m.group(3)}") for m in _MOBILE.finditer(text)]
