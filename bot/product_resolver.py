"""Which products a message is about, the way customers actually name them.

Customers rarely write the catalogue name. They write a type (「货币基金」, "the bond fund"),
half a name in any order ("Evergreen Balanced", "bond steady"), a typo ("Evergren Cash Plus"),
a homophone (「货币包」 for 货币宝), traditional characters (「長青貨幣寶」) or a name we do not
sell (「余额宝」, "the Platinum Fund"). One resolver serves the NLU entity extractor, the actions
and the email channel, so every way in understands the same names.

Matching runs on the normalised text (bot/normalize.py), in order of certainty, each step only
on what the earlier ones left: catalogue names and codes; English name words, also misspelt;
Chinese names written with homophones or one character wrong; product kinds (types, categories). A kind that fits
several products is returned as ``candidates`` for the caller to ask back. Product-like words that
match nothing set ``unknown``: the caller must then not fall back to an earlier product.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Dict, FrozenSet, List, Optional, Sequence, Tuple

from pypinyin import lazy_pinyin
from rapidfuzz import fuzz

from bot import knowledge
from bot.normalize import simplified

# Name words that tell no product apart; left out of the word matching.
_GENERIC_NAME_WORDS = frozenset({"evergreen", "fund", "a", "i"})
_MIN_FUZZY_WORD = 4  # shorter words must be spelt right ("usd")
_FUZZY_WORD_SCORE = 80
_WORD_WINDOW = 4  # name words must stand within this many words of each other
_MIN_HOMOPHONE_NAME = 3  # two-character names are too easily heard in other words
_MIN_MISTYPED_NAME = 5  # names this long are still recognised with one character wrong (「成长精算股票」)

_LATIN_WORD = re.compile(r"[a-z0-9][a-z0-9+]*")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_FOREIGN_CODE = re.compile(r"(?<![a-z0-9])(?:eg-)?[a-z]{2}\d{2}(?![a-z0-9])")
_CHINESE_PRODUCT_NAME = re.compile(r"([\u4e00-\u9fff]{1,6})(?:基金|宝)")
_ENGLISH_PRODUCT_NAME = re.compile(r"\b([a-z][a-z0-9-]*) funds?\b")
# Characters that end a product name when read backwards from 基金/宝: 「我想买基金」, 「这个基金」,
# 「你们家的基金」, 「低风险型基金」 name nothing; 「易方达蓝筹基金」, 「余额宝」 do.
_CHINESE_FILLER = re.compile("[我你您他她它们家想要买卖问请查看的这那个只款支哪该此一些么什吗呢能可以购入在和与跟及把给有点多少几好新种类型长青低高中风险]")
_GENERIC_CHINESE_STEMS = {"公募", "开放式", "封闭式", "指数", "其他", "别的", "别家", "所有", "全部", "热门", "新发", "好的", "理财", "产品", "投资", "了解", "推荐", "赎回", "申购", "认购", "定投"}
_ENGLISH_FILLER = {
    "the", "this", "that", "these", "those", "a", "an", "your", "my", "our", "his", "her", "their",
    "which", "what", "any", "some", "each", "every", "other", "another", "same", "one", "first",
    "new", "good", "best", "better", "safe", "safest", "right", "evergreen", "of", "in", "to", "a",
    "buy", "sell", "about", "is", "it", "its", "for", "and", "or", "with", "mutual", "index",
    "investment", "open-end", "closed-end", "public", "whole", "entire", "whose", "same", "low",
    "risk", "high", "low-risk", "high-risk", "cheap", "cheapest", "popular", "recommended",
}


@dataclass(frozen=True)
class Mention:
    """Where in the text a product is named, and which."""

    start: int
    end: int
    code: str


@dataclass(frozen=True)
class Resolution:
    """What a message says about products.

    ``codes``: products it names, in text order. ``candidates``: the products of a kind it names
    when that kind fits several and nothing narrows it (empty otherwise). ``unknown``: it names
    a product the catalogue does not have (and nothing we know).
    """

    codes: Tuple[str, ...] = ()
    candidates: Tuple[str, ...] = ()
    unknown: bool = False
    mentions: Tuple[Mention, ...] = ()

    @property
    def names_a_product(self) -> bool:
        """Whether the message has product words at all (known, ambiguous or unknown)."""
        return bool(self.codes or self.candidates or self.unknown)


@dataclass(frozen=True)
class _Catalogue:
    aliases: Tuple[Tuple[str, str], ...]  # (lower-cased alias, code), longest first
    name_words: Dict[str, FrozenSet[str]]  # code → distinctive English name words
    kind_words: FrozenSet[str]  # name words that are also kinds ("bond"): the kinds decide those
    homophones: Tuple[Tuple[Tuple[str, ...], str], ...]  # (pinyin of a Chinese alias, code)
    long_names: Tuple[Tuple[str, str], ...]  # (Chinese alias of five characters or more, code)
    kinds: Tuple[Tuple[str, Tuple[str, ...]], ...]  # (lower-cased kind word, codes), longest first


def _build_catalogue(content: dict) -> _Catalogue:
    aliases, name_words, homophones = [], {}, []
    for product in content["products"]:
        code = product["code"]
        names = [simplified(a).lower() for a in product["aliases"]]
        aliases += [(name, code) for name in names]
        words = set(_LATIN_WORD.findall(product["name"]["en"].lower())) - _GENERIC_NAME_WORDS
        name_words[code] = frozenset(words)
        homophones += [
            (tuple(_sound(c) for c in name), code)
            for name in names
            if _CJK.search(name) and len(name) >= _MIN_HOMOPHONE_NAME and all(_CJK.match(c) for c in name)
        ]
    kinds = [
        (simplified(word).lower(), tuple(kind["products"]))
        for kind in content["product_kinds"].values()
        for word in kind["words"]
    ]
    return _Catalogue(
        aliases=tuple(sorted(aliases, key=lambda a: len(a[0]), reverse=True)),
        name_words=name_words,
        kind_words=frozenset(word for word, _ in kinds),
        homophones=tuple(sorted(homophones, key=lambda h: len(h[0]), reverse=True)),
        long_names=tuple((a, c) for a, c in aliases if len(a) >= _MIN_MISTYPED_NAME and all(_CJK.match(ch) for ch in a)),
        kinds=tuple(sorted(kinds, key=lambda k: len(k[0]), reverse=True)),
    )


_built: Tuple[Optional[dict], Optional[_Catalogue]] = (None, None)


def _current_catalogue() -> _Catalogue:
    """The catalogue of the loaded products.yml, rebuilt when knowledge.load re-reads the file
    (a new content object; the one kept here cannot be freed and its identity reused)."""
    global _built
    content = knowledge.load("products")
    if _built[0] is not content:
        _built = (content, _build_catalogue(content))
    return _built[1]


def _is_word_char(char: str) -> bool:
    return char.isascii() and (char.isalnum() or char == "+")


def _bounded(text: str, start: int, end: int, needle: str) -> bool:
    """Latin names stand as whole words ("MM01" is not inside "MM012"); Chinese needs no boundary."""
    if not needle.isascii():
        return True
    before_ok = start == 0 or not _is_word_char(text[start - 1]) or not _is_word_char(needle[0])
    after_ok = end == len(text) or not _is_word_char(text[end]) or not _is_word_char(needle[-1])
    return before_ok and after_ok


def _find_phrases(text: str, taken: List[bool], phrases: Sequence[Tuple[str, object]]) -> List[Tuple[int, int, object]]:
    """Non-overlapping occurrences of ``phrases`` (longest first) in the untaken parts of ``text``."""
    found = []
    for phrase, value in phrases:
        start = text.find(phrase)
        while start != -1:
            end = start + len(phrase)
            if _bounded(text, start, end, phrase) and not any(taken[start:end]):
                taken[start:end] = [True] * (end - start)
                found.append((start, end, value))
            start = text.find(phrase, start + 1)
    return found


def _same_word(written: str, name_word: str) -> bool:
    if written == name_word:
        return True
    if len(name_word) < _MIN_FUZZY_WORD or len(written) < _MIN_FUZZY_WORD - 1:
        return False
    return fuzz.ratio(written, name_word) >= _FUZZY_WORD_SCORE


def _english_name_words(text: str, taken: List[bool], catalogue: _Catalogue) -> List[Mention]:
    """Products named by two of their name words in any order, also misspelt ("bond steady",
    "Balancd Allocation"), or by one name word after "evergreen" or before "fund"/"one"
    ("Evergreen Balanced", "the growth one") — not a word of a kind ("fixed income fund")."""
    words = [(m.start(), m.end(), m.group()) for m in _LATIN_WORD.finditer(text) if not any(taken[m.start():m.end()])]
    in_kind = [False] * len(text)
    _find_phrases(text, in_kind, catalogue.kinds)
    found = []
    for code, name_words in catalogue.name_words.items():
        for i, (start, end, word) in enumerate(words):
            if not any(_same_word(word, n) for n in name_words):
                continue
            hits = [(s, e, n) for s, e, w in words[i:i + _WORD_WINDOW] for n in name_words if _same_word(w, n)]
            if len({n for _, _, n in hits}) >= 2:
                span = (start, hits[-1][1])
            elif word in catalogue.kind_words or in_kind[start]:
                continue
            elif i > 0 and words[i - 1][2] == "evergreen":
                span = (words[i - 1][0], end)
            elif i + 1 < len(words) and words[i + 1][2] in ("fund", "funds", "one"):
                span = (start, words[i + 1][1])
            else:
                continue
            if not any(taken[span[0]:span[1]]):
                taken[span[0]:span[1]] = [True] * (span[1] - span[0])
                found.append(Mention(span[0], span[1], code))
                break
    return found


@functools.lru_cache(maxsize=8192)
def _sound(char: str) -> Optional[str]:
    """A Chinese character's pinyin without tone (each character alone, so names and messages
    are read the same way); ``None`` for anything else."""
    return lazy_pinyin(char)[0] if _CJK.match(char) else None


def _homophones(text: str, taken: List[bool], catalogue: _Catalogue) -> List[Mention]:
    """Chinese names written with characters that sound the same (「货币包」, 「稳赢债券」)."""
    if not _CJK.search(text):
        return []
    sounds = [_sound(c) for c in text]
    found = []
    for name_sounds, code in catalogue.homophones:
        size = len(name_sounds)
        for start in range(len(text) - size + 1):
            if tuple(sounds[start:start + size]) == name_sounds and not any(taken[start:start + size]):
                taken[start:start + size] = [True] * size
                found.append(Mention(start, start + size, code))
    return found


def _mistyped_names(text: str, taken: List[bool], catalogue: _Catalogue) -> List[Mention]:
    """Long Chinese names with one character wrong (「成长精算股票」, 「长青稳盈债劵A」)."""
    found = []
    for name, code in catalogue.long_names:
        size = len(name)
        for start in range(len(text) - size + 1):
            window = text[start:start + size]
            if sum(a != b for a, b in zip(window, name)) == 1 and not any(taken[start:start + size]):
                taken[start:start + size] = [True] * size
                found.append(Mention(start, start + size, code))
    return found


def _names_unknown_product(text: str, taken: List[bool]) -> bool:
    """Product-like words left after everything known was taken: a code we do not have
    ("EG-ZZ09"), a Chinese name before 基金/宝 (「余额宝」, 「易方达蓝筹基金」) or an English word
    before "fund" ("the Platinum fund"). Pronouns and generic words do not count (「这个基金」,
    「低风险的基金」, "this fund", "a good fund")."""
    rest = "".join(" " if t else c for c, t in zip(text, taken))
    if _FOREIGN_CODE.search(rest):
        return True
    for match in _CHINESE_PRODUCT_NAME.finditer(rest):
        stem = _CHINESE_FILLER.split(match.group(1))[-1]
        if len(stem) >= 2 and stem not in _GENERIC_CHINESE_STEMS:
            return True
    return any(word not in _ENGLISH_FILLER for word in _ENGLISH_PRODUCT_NAME.findall(rest))


def resolve(text: Optional[str]) -> Resolution:
    """The products ``text`` names (see the module docstring for the order of the steps)."""
    normal = simplified(text or "").lower()
    if not normal.strip():
        return Resolution()
    catalogue = _current_catalogue()
    taken = [False] * len(normal)
    mentions = [Mention(s, e, code) for s, e, code in _find_phrases(normal, taken, catalogue.aliases)]
    mentions += _english_name_words(normal, taken, catalogue)
    mentions += _homophones(normal, taken, catalogue)
    mentions += _mistyped_names(normal, taken, catalogue)
    kinds = _find_phrases(normal, taken, catalogue.kinds)
    candidates: Tuple[str, ...] = ()
    if kinds:
        shared = set.intersection(*(set(codes) for _, _, codes in kinds))
        fitting = [code for code in _catalogue_order() if code in (shared or {c for _, _, cs in kinds for c in cs})]
        if len(fitting) == 1:
            mentions += [Mention(start, end, fitting[0]) for start, end, codes in kinds if fitting[0] in codes]
        elif not mentions:
            candidates = tuple(fitting)
    mentions.sort(key=lambda m: m.start)
    codes = tuple(dict.fromkeys(m.code for m in mentions))
    unknown = not codes and not candidates and _names_unknown_product(normal, taken)
    return Resolution(codes=codes, candidates=candidates, unknown=unknown, mentions=tuple(mentions))


def _catalogue_order() -> List[str]:
    return [product["code"] for product in knowledge.load("products")["products"]]
