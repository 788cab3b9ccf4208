"""What staff and the assistant must never say to a customer (spec 7.3, 8.2), in one place.

:func:`check` reads a text about to reach a customer and returns its findings, each naming a
rule: ``credential_request`` (asking for a password, an SMS/verification code or a card number),
``promise_of_returns`` (promising returns or safety), ``missing_disclosure`` (a product named
without the risk disclosure of the customer's language) and ``above_risk_level`` (recommending a
product above the customer's verified, unexpired risk level). The console checks agents' drafts
with it, the quality dashboard counts what was said with it, and the knowledge texts are tested
with it.

Both languages are read whatever the conversation's language, on the normalised text
(bot/normalize.py: same length, so spans point at what was written). A rule's words count only
when the clause before them does not deny them: telling the customer never to share a code,
「不保本」, "returns are not guaranteed" and "I would not recommend it" all pass. Product names
(found by the resolver chat uses) are never read as promises, whatever words they contain.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, Dict, List, Mapping, Optional, Sequence

from bot import knowledge, product_resolver
from bot.normalize import simplified
from bot.products import find_product, valid_risk_level

RULES = ("credential_request", "promise_of_returns", "missing_disclosure", "above_risk_level")
OVERRIDE = "reply_override"  # the audit log's action for an agent's reply sent despite findings

_CLAUSE_END = r"。！？!?；;，,\n"
_CLAUSE_BREAK = re.compile(rf"[{_CLAUSE_END}]|\.(?=\s|$)")
_SENTENCE_BREAK = re.compile(r"[。！？!?\n]|\.(?=\s|$)")
_NOT = r"(?:'|’)t\b"  # don't, can't, won't, wouldn't…

# --- credential_request ----------------------------------------------------------------------------
_ZH_SECRET = (r"(?:登录|交易|支付|取款|网银|账户|银行卡)?密码|(?:短信|手机|动态)?验证码|动态码|校验码|(?:动态)?口令"
              r"|(?:银行|信用|借记)?卡号(?!后四位|后4位|末四位|末4位|尾号)|(?:卡片?背面的?)?(?:cvv2?|cvc2?|安全码)|卡的?有效期")
_ZH_VERB = (r"提供|告诉|告知|发送|发给|发来|发过来|发一下|发我|回复|报一下|报给|念一下|说一下|透露|提交|给我|给一下"
            r"|核对一下|确认一下")
_ZH_ASKING = r"请|麻烦|烦请|劳烦|能否|能不能|可否|可以|方便|需要|只需|只要|得|务必|您|你"
_EN_SECRET = (r"(?:(?:login|account|online banking|trading|transaction)\s+)?(?:password|passcode|pin(?:\s+(?:code|number))?)"
              r"|(?:sms|text|verification|one[- ]time|security|otp|login|access|authentication|auth|2fa|confirmation)\s+code"
              r"|otp|code|(?:bank\s+|credit\s+|debit\s+)?card\s+(?:number|details)|cvv2?|cvc2?|security\s+number")
_EN_VERB = (r"send|tell|give|provide|share|confirm|read(?:\s+out)?|reply\s+with|text|email|forward|need"
            r"|what(?:'|’)s|what\s+is|let\s+(?:me|us)\s+(?:know|have)|(?:can|could|may)\s+(?:i|we)\s+(?:have|get|take)")
_EN_FILLER = r"(?:(?!reference|promo|postal|zip|product|fund|branch|complaint|booking|tracking|discount)[\w-]+\s+)"
CREDENTIAL_REQUEST = re.compile(
    rf"(?:{_ZH_ASKING})[^{_CLAUSE_END}]{{0,8}}?(?:{_ZH_VERB})[^{_CLAUSE_END}]{{0,10}}?(?:{_ZH_SECRET})"
    rf"|(?<!已)(?:把|将)[^{_CLAUSE_END}]{{0,6}}?(?:{_ZH_SECRET})[^{_CLAUSE_END}]{{0,6}}?(?:发|告诉|告知|报|提供|给|回复|念|说|透露)(?!了|过)"
    rf"|(?:{_ZH_SECRET})(?:是多少|是什么|多少|发一下|报一下|发过来|发给我|告诉我)"
    rf"|\b(?:{_EN_VERB})\b(?:\s+(?:me|us))?\s+(?:over\s+)?(?:your|the|that|this|those|these)\s+{_EN_FILLER}{{0,3}}?(?:{_EN_SECRET})\b",
    re.IGNORECASE,
)
# Anywhere in the clause before the request: "never share your code", 「请勿透露验证码」.
_CREDENTIAL_DENIED = re.compile(
    rf"勿|不要|别|不会|绝不|从不|从来不|不得|不可|不能|不应|不用|无需|不需要|切莫|严禁|谨防|切忌|千万不"
    rf"|\b(?:never|not|no one|nobody|no need|avoid|without|nor|refuse)\b|{_NOT}", re.IGNORECASE)

# --- promise_of_returns ----------------------------------------------------------------------------
_ZH_PROMISE = (r"保本保息|保本|保息|保收益|保证(?:本金|收益|回报|盈利|赚钱|不亏|安全)|稳赚(?:不赔|不亏)?|只赚不赔|包赚"
               r"|(?:无|零|没有(?:任何)?|没)风险(?!测评|评估|等级|承受|偏好|提示|揭示|问卷)|一定(?:会)?赚|肯定(?:会)?赚|不会亏(?:损|钱|本)?|亏不了"
               r"|绝对安全|百分之?百安全|100%安全|刚性兑付|刚兑|本金(?:绝对|完全)?安全")
_EN_GAIN = r"returns?|profits?|income|yields?|gains?|interest|payouts?|principal|capital|money|performance|growth|results?"
_EN_PROMISE = (
    rf"\bguarantee(?:d|s)?\s+(?:\w+\s+){{0,3}}?(?:{_EN_GAIN})\b|\bguaranteed\s+\d"
    rf"|\b(?:{_EN_GAIN}|it|it(?:'|’)s|this|that|investment)\s+(?:is\s+|are\s+|will\s+be\s+)?(?:fully\s+|100%\s+)?guaranteed\b"
    r"|\brisk[- ]?free\b|\b(?:no|zero)[- ]risk\b|\bwithout\s+(?:any\s+)?risk\b"
    r"|\b(?:can(?:'|’)?t|cannot|can\s+not|won(?:'|’)?t|will\s+not|never)\s+lose\b|\bno\s+way\s+to\s+lose\b"
    r"|\bsure(?:-fire)?\s+(?:profit|win|thing|bet|gain)s?\b|\bsafe\s+bet\b|\b(?:capital|principal)[- ]protected\b"
    r"|(?:\b(?:completely|totally|absolutely|perfectly|entirely)|100%)\s+safe\b"
)
PROMISE = re.compile(rf"{_ZH_PROMISE}|{_EN_PROMISE}", re.IGNORECASE)
# Just before the promise, in its clause: 「不保本」, 「不承诺保本」, "not guaranteed", "no product is risk-free".
_ZH_PROMISE_DENIED = re.compile(r"不|非|无法|没有|没|并无|未|绝非|难以")
_ZH_NOT_A_DENIAL = re.compile(r"不用担心|不必担心|别担心|不要担心|不过|不少|不错|不仅|不但|不同")
_EN_PROMISE_DENIED = re.compile(rf"\b(?:not|no|never|nothing|none|neither|nor|cannot|without)\b|{_NOT}", re.IGNORECASE)
_ZH_WINDOW, _EN_WORDS = 6, 6

# --- above_risk_level ------------------------------------------------------------------------------
URGING = re.compile(
    r"强烈推荐|推荐|建议您?(?:购买|买入|买|申购|认购|配置|入手|考虑|选择|选|投资|试试)|可以(?:购买|买入|买|申购|认购|配置|入手|考虑|投)"
    r"|值得(?:购买|买入|买|入手|投资|配置|拥有)|(?:很|非常|最|特别)?适合您|赶紧|抓紧|尽快(?:购买|买|申购|认购|入手)|快(?:买|入手|抢)"
    r"|买它|首选|不妨|不要错过|别错过|机会难得"
    r"|\b(?:recommend|suggest|advise\s+you\s+to|you\s+should\s+(?:buy|invest|consider|get|go\s+for|pick|choose|try|add)"
    r"|i(?:'|’)?d\s+(?:go\s+(?:with|for)|pick|choose|buy|recommend)|worth\s+(?:buying|investing|a\s+look|considering)"
    r"|(?:great|good|perfect|ideal|best|right)\s+(?:fit|choice|option|pick|match)\s+for\s+you|suits\s+you|suitable\s+for\s+you"
    r"|go\s+for\s+it|buy\s+(?:it\s+)?now|don(?:'|’)?t\s+miss|consider\s+(?:buying|investing|adding)|why\s+not\s+(?:buy|try|invest)"
    r"|you\s+could\s+(?:buy|invest|try)|top\s+pick|act\s+now)",
    re.IGNORECASE,
)
_URGING_DENIED = re.compile(rf"不|没|无法|并非|未|\b(?:not|never|no)\b|{_NOT}", re.IGNORECASE)
# In the product's own clause: the agent says it is not for this customer.
_DECLINED = re.compile(
    r"不适合|不建议|不推荐|超出|超过您|高于您|不能购买|无法购买|不能买|不可购买|不符合|不匹配"
    r"|not\s+suitable|isn(?:'|’)t\s+suitable|not\s+(?:a\s+)?(?:good\s+|right\s+)?(?:fit|match)|above\s+your|exceeds?\s+your"
    r"|higher\s+than\s+your|beyond\s+your|outside\s+your|too\s+risky|not\s+recommend"
    r"|(?:can(?:'|’)?t|cannot|can\s+not|may\s+not|not\s+allowed\s+to|unable\s+to)\s+(?:buy|invest|purchase)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Finding:
    """One thing a text must not say, where it says it (``start``/``end`` index the text)."""

    rule: str
    start: int
    end: int
    span: str
    product: Optional[str] = None  # missing_disclosure, above_risk_level: the product's code
    product_risk: Optional[str] = None  # above_risk_level: R1–R5 …
    customer_level: Optional[str] = None  # … above the customer's C1–C5
    disclosure: Optional[str] = None  # missing_disclosure: the text to append

    def as_dict(self) -> Dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}


def disclosure(language: str) -> str:
    """The risk disclosure the assistant closes product answers with, in ``language``."""
    return knowledge.risk_disclosure(language)


def customer_level(profile: Optional[Mapping[str, Any]], today: date) -> Optional[str]:
    """The verified customer's unexpired risk level (C1–C5), else ``None``."""
    if not profile or not profile.get("verified"):
        return None
    return valid_risk_level(profile.get("risk_level"), profile.get("risk_expires"), today)


def check(text: str, language: str, profile: Optional[Mapping[str, Any]] = None,
          today: Optional[date] = None) -> List[Finding]:
    """Every finding of every rule in ``text`` for a customer speaking ``language`` (zh/en) with
    the verified ``profile`` (``Conversations.profile``; ``above_risk_level`` needs ``today``)."""
    normal = simplified(text)
    mentions = _mentions(normal)
    unnamed = _without_names(normal, mentions)
    findings = [Finding("credential_request", s, e, text[s:e]) for s, e in _credential_requests(unnamed)]
    findings += [Finding("promise_of_returns", s, e, text[s:e]) for s, e in _promises(unnamed)]
    if mentions and not _has_disclosure(normal, language):
        first = mentions[0]
        findings.append(Finding("missing_disclosure", first.start, first.end, text[first.start:first.end],
                                product=first.code, disclosure=disclosure(language)))
    level = customer_level(profile, today) if today else None
    if level:
        findings += [Finding("above_risk_level", m.start, m.end, text[m.start:m.end], product=m.code,
                             product_risk=find_product(m.code).risk, customer_level=level)
                     for m in _urged_above(normal, mentions, level)]
    return sorted(findings, key=lambda f: (f.start, RULES.index(f.rule)))


def asks_for_credentials(text: Optional[str]) -> bool:
    """Whether ``text`` asks the customer for a password, a code or a card number."""
    return _breaks(text, CREDENTIAL_REQUEST, _credential_requests)


def promises_returns(text: Optional[str]) -> bool:
    """Whether ``text`` promises returns or safety."""
    return _breaks(text, PROMISE, _promises)


def _breaks(text: Optional[str], words: re.Pattern, rule) -> bool:
    """One rule on ``text``; the product names are looked for only when the rule's words occur
    (the dashboard reads every message of a period)."""
    normal = simplified(text or "")
    return bool(words.search(normal)) and bool(rule(_without_names(normal, _mentions(normal))))


# --- the rules ---------------------------------------------------------------------------------------

def _mentions(normal: str) -> Sequence[product_resolver.Mention]:
    return product_resolver.resolve(normal).mentions


def _without_names(normal: str, mentions: Sequence[product_resolver.Mention]) -> str:
    """``normal`` with the product names blanked out (a name is no promise)."""
    for m in mentions:
        normal = normal[:m.start] + " " * (m.end - m.start) + normal[m.end:]
    return normal


def _clause_start(text: str, position: int) -> int:
    starts = [m.end() for m in _CLAUSE_BREAK.finditer(text, 0, position)]
    return starts[-1] if starts else 0


def _credential_requests(text: str) -> List[tuple]:
    found = []
    for match in CREDENTIAL_REQUEST.finditer(text):
        if not _CREDENTIAL_DENIED.search(text, _clause_start(text, match.start()), match.end()):
            found.append(match.span())
    return found


def _promises(text: str) -> List[tuple]:
    found = []
    for match in PROMISE.finditer(text):
        before = text[_clause_start(text, match.start()):match.start()]
        if not _denied(before, match.group(), _EN_PROMISE_DENIED, _ZH_PROMISE_DENIED, _EN_WORDS, _ZH_WINDOW):
            found.append(match.span())
    return found


def _denied(before: str, term: str, english: re.Pattern, chinese: re.Pattern, words: int, characters: int) -> bool:
    """Whether the last ``words`` English words (or ``characters`` Chinese characters) before
    ``term`` deny it."""
    if term[0].isascii():
        return bool(english.search(" ".join(before.split()[-words:])))
    return bool(chinese.search(_ZH_NOT_A_DENIAL.sub("", before)[-characters:]))


def _has_disclosure(normal: str, language: str) -> bool:
    return "".join(simplified(disclosure(language)).split()) in "".join(normal.split())


def _urged_above(normal: str, mentions: Sequence[product_resolver.Mention], level: str) -> List[product_resolver.Mention]:
    """Products above ``level`` in a sentence that urges or recommends, unless the product's own
    clause says it is not for this customer (「成长精选不适合您」)."""
    found = []
    for m in mentions:
        product = find_product(m.code)
        if product is None or product.risk_rank <= int(level[1]):
            continue
        starts = [b.end() for b in _SENTENCE_BREAK.finditer(normal, 0, m.start)]
        sentence_start = starts[-1] if starts else 0
        end = _SENTENCE_BREAK.search(normal, m.end)
        sentence_end = end.start() if end else len(normal)
        clause_end = _CLAUSE_BREAK.search(normal, m.end)
        clause = normal[_clause_start(normal, m.start):clause_end.start() if clause_end else len(normal)]
        if _DECLINED.search(clause):
            continue
        for urge in URGING.finditer(normal, sentence_start, sentence_end):
            before = normal[_clause_start(normal, urge.start()):urge.start()]
            if not _denied(before, urge.group(), _URGING_DENIED, _URGING_DENIED, 3, 3):
                found.append(m)
                break
    return found
