"""One written form for everything the assistant reads: simplified characters, half-width Latin.

Customers in Hong Kong, Taiwan and overseas write traditional characters (「長青貨幣寶」,
「贖回要多久」) and phone keyboards produce full-width letters and digits (「ＥＧ－ＭＭ０１」). The
training data, the product names and every word list are simplified and half-width, so text is
brought to that form before it is tokenized or matched, by OpenCC's maintained conversion tables.

The result always has the same length as the input, character for character, so entity offsets
found in the normalised text point at the same characters in what the customer wrote.
"""

from __future__ import annotations

import functools

import opencc

_FULL_WIDTH_FIRST, _FULL_WIDTH_LAST, _FULL_WIDTH_OFFSET = 0xFF01, 0xFF5E, 0xFEE0
_IDEOGRAPHIC_SPACE = "\u3000"


@functools.lru_cache(maxsize=1)
def _converter() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def _half_width(char: str) -> str:
    code = ord(char)
    if 0xD800 <= code <= 0xDFFF:  # a lone surrogate (broken UTF-16 from a client) cannot be encoded
        return "\ufffd"
    if _FULL_WIDTH_FIRST <= code <= _FULL_WIDTH_LAST:
        return chr(code - _FULL_WIDTH_OFFSET)
    return " " if char == _IDEOGRAPHIC_SPACE else char


@functools.lru_cache(maxsize=4096)
def simplified(text: str) -> str:
    """``text`` in simplified characters with half-width letters, digits and punctuation.

    OpenCC converts phrases as a whole (「瞭解」 → 「了解」); in the rare case a phrase
    conversion changes the length, characters are converted one by one instead.
    """
    if not text:
        return text or ""
    folded = "".join(map(_half_width, text))
    if folded.isascii():
        return folded
    converted = _converter().convert(folded)
    if len(converted) != len(folded):
        converted = "".join(c if len(c) == 1 else o for o, c in ((o, _converter().convert(o)) for o in folded))
    return converted
