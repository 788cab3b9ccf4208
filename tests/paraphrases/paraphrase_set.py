"""The paraphrase set (``paraphrases.yml``): loading it, asking the running assistant every
question in a conversation of its own, and judging each reply.

Used by ``test_paraphrases.py`` (``make test``) and by section (p) of ``make bench``.
A reply passes when it is about the expected product (or, for a type that fits several products,
asks which one with a button for each candidate), contains every expected fact, says nothing the
entry forbids, is in the customer's language and carries the risk disclosure where the spec
requires it.
"""

from __future__ import annotations

import asyncio
import re
import time
import unicodedata
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import aiohttp
import yaml

from bot import knowledge
from bot.language import detect_language

PATH = Path(__file__).with_name("paraphrases.yml")
# FAQ topics that describe how products are bought, sold and charged (spec 7.3.1: the disclosure).
PRODUCT_FAQ_TOPICS = {"faq/purchase", "faq/redemption", "faq/fees"}
# A reply about one product that names this many products is a catalogue listing, not an answer.
CATALOGUE_LISTING = 4


@dataclass(frozen=True)
class Paraphrase:
    text: str
    lang: str  # zh, en or mixed: the language the customer writes in
    intent: str
    how: str
    product: Optional[str] = None
    candidates: Tuple[str, ...] = ()
    facts: Tuple[Tuple[str, ...], ...] = ()  # each fact: its accepted alternatives
    avoid: Tuple[str, ...] = ()  # regular expressions

    @property
    def reply_language(self) -> Optional[str]:
        """The language the reply must be in: the customer's, as the assistant decides it."""
        return detect_language(self.text)

    @property
    def needs_disclosure(self) -> bool:
        return bool(self.product) or self.intent == "product_list" or self.intent in PRODUCT_FAQ_TOPICS


def _fact(value: Any) -> Tuple[str, ...]:
    """A fact's alternatives. Unquoted numbers would reach us as floats or dates ("1.2410" as
    1.241), so anything but text is refused."""
    alternatives = value if isinstance(value, list) else [value]
    if not all(isinstance(a, str) for a in alternatives):
        raise ValueError(f"quote the fact {value!r} in {PATH.name}: it must be text")
    return tuple(alternatives)


def load(path: Path = PATH) -> List[Paraphrase]:
    entries = yaml.safe_load(path.read_text(encoding="utf-8"))["paraphrases"]
    return [
        Paraphrase(
            text=e["text"],
            lang=e["lang"],
            intent=e["intent"],
            how=e["how"],
            product=e.get("product"),
            candidates=tuple(e.get("candidates") or ()),
            facts=tuple(_fact(f) for f in e.get("facts") or ()),
            avoid=tuple(e.get("avoid") or ()),
        )
        for e in entries
    ]


def normalise(text: str) -> str:
    """Text as compared with facts: full-width forms folded (NFKC), dashes made "-", thousands
    separators and whitespace dropped, case folded ("1,000 元" ≡ "1000元")."""
    text = unicodedata.normalize("NFKC", text)
    text = re.sub(r"[\u2010-\u2015\u2212]", "-", text)
    text = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", text)
    return re.sub(r"\s+", "", text).casefold()


def contains_fact(reply: str, fact: str) -> bool:
    """Whether ``reply`` states ``fact``; a number must not be part of a longer number
    ("1,000" is not found in "10,000", "T+2" not in "T+20", "0.5%" not in "10.5%")."""
    wanted = normalise(fact)
    pattern = re.escape(wanted)
    if wanted[:1].isdigit():
        pattern = r"(?<![\d.])" + pattern
    if wanted[-1:].isdigit():
        pattern += r"(?!\.?\d)"
    return re.search(pattern, normalise(reply)) is not None


def _product_words() -> Dict[str, List[str]]:
    """Code → the words that name it in a reply or a button (code, names, aliases)."""
    words = {}
    for entry in knowledge.load("products")["products"]:
        names = [entry["code"], *entry["name"].values(), *entry.get("aliases", [])]
        words[entry["code"]] = sorted({normalise(n) for n in names}, key=len, reverse=True)
    return words


def products_named(text: str) -> set:
    """Codes of the products ``text`` names, by code, name or alias."""
    plain = normalise(text)
    return {code for code, words in _product_words().items() if any(w in plain for w in words)}


@dataclass
class Reply:
    """What the assistant sent back: its text, its buttons and the intent it understood."""

    text: str
    buttons: List[Dict[str, Any]] = field(default_factory=list)
    understood: Optional[str] = None

    @classmethod
    def from_rest(cls, messages: Sequence[Dict[str, Any]]) -> "Reply":
        understood = None
        texts, buttons = [], []
        for message in messages:
            marker = (message.get("custom") or {}).get("understanding")
            if marker:
                understood = understood or marker.get("intent")
                continue
            if message.get("text"):
                texts.append(message["text"])
            buttons += message.get("buttons") or []
        return cls("\n".join(texts), buttons, understood)


@dataclass
class Verdict:
    paraphrase: Paraphrase
    reply: Reply
    problems: List[str]  # empty: passed
    kind: Optional[str]  # the first problem's kind, for counting failures

    @property
    def passed(self) -> bool:
        return not self.problems


def judge(paraphrase: Paraphrase, reply: Reply) -> Verdict:
    problems: List[Tuple[str, str]] = []  # (kind, detail)
    text = reply.text
    if not text.strip():
        problems.append(("no reply", "nothing was said"))
    elif paraphrase.candidates:
        button_products = [products_named(f"{b.get('title', '')} {b.get('payload', '')}") for b in reply.buttons]
        offered = [next(iter(codes)) for codes in button_products if len(codes) == 1]
        if sorted(offered) != sorted(paraphrase.candidates) or not re.search(r"[?？]", text):
            problems.append(("no choice between the candidates",
                             f"wanted a question with buttons for {list(paraphrase.candidates)}, got buttons {offered}"))
    elif paraphrase.product:
        named = products_named(text)
        if len(named) >= CATALOGUE_LISTING:  # "which product do you mean? We have: …"
            problems.append(("product not understood", f"wanted {paraphrase.product}, the reply lists {sorted(named)}"))
        elif paraphrase.product not in named:
            kind = "wrong product" if named else "product not understood"
            problems.append((kind, f"wanted {paraphrase.product}, the reply names {sorted(named) or 'none'}"))
    if text.strip():
        missing = [alternatives[0] for alternatives in paraphrase.facts if not any(contains_fact(text, a) for a in alternatives)]
        if missing:
            problems.append(("missing fact", f"missing {missing}"))
        said = [pattern for pattern in paraphrase.avoid if re.search(pattern, text, re.IGNORECASE)]
        if said:
            problems.append(("says what it must not", f"matches {said}"))
        got_language = detect_language(text)
        if got_language != paraphrase.reply_language:
            problems.append(("wrong language", f"reply in {got_language}, customer wrote {paraphrase.reply_language}"))
        if paraphrase.needs_disclosure and knowledge.risk_disclosure(paraphrase.reply_language or "zh") not in text:
            problems.append(("no risk disclosure", "the disclosure is missing"))
    return Verdict(paraphrase, reply, [detail for _, detail in problems], problems[0][0] if problems else None)


async def _ask(session: aiohttp.ClientSession, url: str, paraphrase: Paraphrase, run: str, index: int) -> Reply:
    body = {"sender": f"paraphrase-{run}-{index}", "message": paraphrase.text}
    async with session.post(url, json=body) as response:
        response.raise_for_status()
        return Reply.from_rest(await response.json())


def ask_all(rasa_url: str, paraphrases: Sequence[Paraphrase], parallel: int = 4) -> List[Verdict]:
    """Send every paraphrase to the REST channel at ``rasa_url``, each as a new customer, at most
    ``parallel`` at once, and judge the replies (in the order given)."""
    url = f"{rasa_url}/webhooks/rest/webhook"
    run = uuid.uuid4().hex[:8]

    async def everything() -> List[Reply]:
        limit = asyncio.Semaphore(parallel)
        timeout = aiohttp.ClientTimeout(total=120)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async def one(index: int, paraphrase: Paraphrase) -> Reply:
                async with limit:
                    return await _ask(session, url, paraphrase, run, index)

            return await asyncio.gather(*(one(i, p) for i, p in enumerate(paraphrases)))

    return [judge(p, r) for p, r in zip(paraphrases, asyncio.run(everything()))]


@dataclass
class Summary:
    """Pass rates per language and per kind of wording, and failures counted by kind."""

    verdicts: List[Verdict]
    seconds: float = 0.0

    @staticmethod
    def _rate(verdicts: Iterable[Verdict]) -> Tuple[int, int]:
        verdicts = list(verdicts)
        return sum(v.passed for v in verdicts), len(verdicts)

    def rate(self, lang: Optional[str] = None) -> float:
        passed, total = self._rate(v for v in self.verdicts if lang in (None, v.paraphrase.lang))
        return passed / total if total else 0.0

    def by(self, key) -> Dict[str, Tuple[int, int]]:
        groups: Dict[str, List[Verdict]] = {}
        for verdict in self.verdicts:
            groups.setdefault(key(verdict.paraphrase), []).append(verdict)
        return {name: self._rate(found) for name, found in sorted(groups.items())}

    def failure_kinds(self) -> Counter:
        return Counter(v.kind for v in self.verdicts if not v.passed)

    def report(self) -> str:
        lines = [f"Paraphrase set: {self.rate():.1%} of {len(self.verdicts)} answered right"]
        for title, key in (("language", lambda p: p.lang), ("wording", lambda p: p.how), ("intent", lambda p: p.intent)):
            lines.append(f"  by {title}: " + ", ".join(f"{name} {ok}/{n}" for name, (ok, n) in self.by(key).items()))
        lines.append("  failures by kind: " + ", ".join(f"{kind} ×{n}" for kind, n in self.failure_kinds().most_common()))
        for verdict in self.verdicts:
            if not verdict.passed:
                p = verdict.paraphrase
                expected = p.product or (f"one of {list(p.candidates)}" if p.candidates else "-")
                lines.append(
                    f"  FAIL [{p.lang}] {p.text!r} — expected {p.intent} {expected}; understood {verdict.reply.understood}; "
                    f"{'; '.join(verdict.problems)}; got {verdict.reply.text[:160]!r}"
                )
        return "\n".join(lines)


def run(rasa_url: str, paraphrases: Optional[Sequence[Paraphrase]] = None, parallel: int = 4) -> Summary:
    started = time.monotonic()
    verdicts = ask_all(rasa_url, paraphrases if paraphrases is not None else load(), parallel)
    return Summary(verdicts, time.monotonic() - started)
