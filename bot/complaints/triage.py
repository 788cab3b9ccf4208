"""Suggesting a complaint's category, and triage: is a message urgent, a secret offered, or anger?

Triage decides, from the text and the NLU intent, one of four verdicts (the words are in
``complaints.yml`` under ``triage``; docs/architecture.md, "Triage"):

1. ``urgent`` — a threat of harm (always, negated or not), or an event: something that happened to the
   customer's account or money, or a fraudster who contacted them ("被盗", "不是我操作",
   "someone logged in", "冒充…客服"), unless every event word is negated ("没有被盗") or the
   message frames it as a question, a hypothesis or news ("如何防范", "what if", "新闻") without
   telling of contact aimed at the customer ("给我打电话", "called me");
2. ``urgent`` too when the intent classifier read ``report_fraud`` of a message of some length
   (``MIN_REPORT_LENGTH``) with a sign that something happened without the customer (``signs``:
   有人, 突然, "someone" …; 「关于我的账户」 alone is none) and nothing above explains the
   reading away: the classifier knows wordings the lists do not, and missing a real fraud is
   worse than a false alarm;
3. ``secret_offered`` — the customer gives (masked by bot/privacy.py) or offers a password,
   code, ID or card number: they need the warning, not an alarm;
4. ``complaint`` — insults and angry words, or a grievance about charges ("赎回费被多扣了",
   which the classifier tends to read as money leaving the account): an ordinary complaint;
5. ``none`` — anything else.

Text is compared in simplified characters and half-width letters (bot/normalize.py) and lower case, so 「帳戶被盜」 is 「账户被盗」.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, List, Optional, Pattern


from bot import knowledge
from bot.complaints.models import CATEGORIES
from bot.normalize import simplified

URGENT = "urgent"
SECRET_OFFERED = "secret_offered"
COMPLAINT = "complaint"
NONE = "none"
FRAUD_INTENT = "report_fraud"
# A secret bot/privacy.py has masked: stars for a password or code, or a masked ID or card number.
MASKED_SECRET = re.compile(r"\*{3,}")
# A masked mobile number ("138****5678") is no secret: customers give it for a callback.
MASKED_MOBILE = re.compile(r"(?<!\d)1[3-9]\d\*{4}\d{4}(?!\d)")
# The words of a "A … B" phrase are at most this far apart, in one sentence.
GAP = r"[^。！？!?.\n]{0,24}?"
# How far before a word a negation counts: characters before a Chinese word, words before an English one.
NEGATION_CHARACTERS = 3
# The classifier's report_fraud reading counts only for a message this long (Chinese characters
# and Latin letters): 「有人吗」 (is anyone there?) reads as report_fraud but reports nothing.
MIN_REPORT_LENGTH = 5
NEGATION_WORDS = 2


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


def category_label(category: str, language: str) -> str:
    return knowledge.load("complaints")["categories"][category][language]


# --- triage ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Triage:
    verdict: str  # URGENT | SECRET_OFFERED | COMPLAINT | NONE
    reason: str  # the rule and the words that decided it, for logs and tests

    @property
    def urgent(self) -> bool:
        return self.verdict == URGENT


def normalise(text: str) -> str:
    """Simplified characters, half-width letters, lower case (bot/normalize.py)."""
    return simplified(text).lower()


def _phrase_pattern(phrase: str) -> Pattern:
    """A regex for a phrase of the word lists (their comment in complaints.yml)."""
    parts = []
    for part in phrase.lower().split("…"):
        part = part.strip()
        body = re.escape(part[:-1]) + "[a-z]*" if part.endswith("*") else re.escape(part)
        body = body.replace(r"\ ", r"\s+")
        if part[:1].isascii() and part[:1].isalnum():
            body = r"(?<![a-z])" + body
        if part[-1:].isascii() and (part[-1:].isalnum() or part.endswith("*")):
            body += r"(?![a-z])"
        parts.append(body)
    return re.compile(GAP.join(parts))


@lru_cache(maxsize=None)
def _patterns(kind: str) -> List[Pattern]:
    return [_phrase_pattern(str(phrase)) for phrase in knowledge.load("complaints")["triage"][kind]]


def _found(text: str, kind: str) -> List[re.Match]:
    return [match for pattern in _patterns(kind) for match in pattern.finditer(text)]


def _negated(text: str, match: re.Match) -> bool:
    """Whether a negation comes right before the match ("没有被盗", "was not hacked")."""
    start = match.start()
    if match.group(0)[:1].isascii():
        before = " ".join(re.findall(r"[a-z']+", text[:start])[-NEGATION_WORDS:])
    else:
        before = text[max(0, start - NEGATION_CHARACTERS):start].replace("是不是", "")  # a question, no negation
        if "不是" in before and "吗" in text[match.end():match.end() + 3]:
            return False  # rhetorical: 「这不是骗人吗」
    return any(pattern.search(before) for pattern in _patterns("negations"))


def _first(matches: List[re.Match]) -> str:
    return matches[0].group(0) if matches else ""


def without_insults(text: str) -> str:
    """``text`` with its insults blanked out, in place (same length), to see what else it says."""
    normal = normalise(text)
    for match in _found(normal, "insults"):
        normal = normal[:match.start()] + " " * (match.end() - match.start()) + normal[match.end():]
    return normal


def shows_masked_secret(text: str) -> bool:
    """Whether bot/privacy.py masked a password, code, ID or card number in ``text``."""
    return bool(MASKED_SECRET.search(MASKED_MOBILE.sub("", text)))


def decide(text: str, intent: Optional[str] = None) -> Triage:
    """The triage verdict for a customer's message (module docstring); ``intent`` is the NLU
    classifier's reading, if there is one."""
    text = normalise(text)
    harm = _found(text, "harm")  # never cancelled: 「我不想自杀，可是…」 still needs a person
    if harm:
        return Triage(URGENT, f"harm: {_first(harm)}")
    events = _found(text, "events")
    real_events = [m for m in events if not _negated(text, m)]
    general = [m for m in _found(text, "general") if not _negated(text, m)]  # "没听说过" is no hearsay
    personal = _found(text, "personal")
    if real_events and (not general or personal):
        return Triage(URGENT, f"event: {_first(real_events)}")
    secret = shows_masked_secret(text) or bool(_found(text, "secret_words") and _found(text, "offering"))
    insult_words = _found(text, "insults")
    insults = [m for m in insult_words if not _negated(text, m)]  # "我不是骗子" is no insult
    long_enough = len(re.findall(r"[\u4e00-\u9fffa-z]", text)) >= MIN_REPORT_LENGTH
    grievances = _found(text, "grievances")
    signs = _found(text, "signs")
    if intent == FRAUD_INTENT and long_enough and signs and not (events or general or secret or insult_words or grievances):
        return Triage(URGENT, f"intent: report_fraud, sign: {_first(signs)}")
    if secret:
        return Triage(SECRET_OFFERED, "secret")
    if general:
        return Triage(NONE, f"general: {_first(general)}")
    if insults:
        return Triage(COMPLAINT, f"insult: {_first(insults)}")
    if grievances:
        return Triage(COMPLAINT, f"grievance: {_first(grievances)}")
    if events:
        return Triage(NONE, f"negated: {_first(events)}")
    return Triage(NONE, "nothing")
