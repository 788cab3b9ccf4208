"""Suitability on every way towards a purchase, exhaustively (issue #15, item 3).

Every customer standing (verified C1–C5, verified with an expired or no assessment, not
verified) × every product × questions about buying it or whether it suits them, in both
languages, each through the trained model and the real actions: Rasa's REST channel on
loopback, with the verified profile in the message metadata as the contact service sends it
(bot/server/app.py). The safety rule checked on every answer: no buying steps unless the
verified customer's valid level covers the product (and never for EG-PE05, sold only through
an advisor); the above-level statement when it does not; the disclosure; the customer's language.
"""

from __future__ import annotations

import itertools
import json
import urllib.request
from typing import Dict, List, Optional

import pytest

from bot.products import catalog
from tests.support.trackers import DISCLOSURE

# The profile the contact service sends (bot/core/customers.py profile_of) per standing.
PROFILES: Dict[str, dict] = {
    **{level: {"verified": True, "tier": "standard", "risk_level": level, "risk_expires": "2027-06-30"}
       for level in ("C1", "C2", "C3", "C4", "C5")},
    "expired": {"verified": True, "tier": "standard", "risk_level": "C5", "risk_expires": "2026-05-31"},
    "unassessed": {"verified": True, "tier": "standard", "risk_level": None, "risk_expires": None},
    "unverified": {"verified": False, "tier": "standard", "risk_level": None, "risk_expires": None},
}

# Short names customers use beside the catalogue names.
SHORT_NAMES = {
    "EG-MM01": ("货币宝", "Cash Plus"),
    "EG-BD02": ("稳盈债券", "Steady Bond"),
    "EG-BL03": ("平衡配置", "Balanced Allocation"),
    "EG-EQ04": ("成长精选", "Growth Equity"),
    "EG-PE05": ("私享股权一期", "Private Equity Fund I"),
    "EG-FX06": ("美元收益", "USD Income"),
}

# (question template, asks how to buy): "how to buy" questions get the steps when allowed,
# "does it suit me" questions the verdict only. {full}: catalogue name, {short}: short name.
PHRASINGS = {
    "zh": [
        ("我能买{full}吗", True),
        ("{short}我可以买吗", True),
        ("我想买{full}", True),
        ("请问怎样购买{short}", True),
        ("{short}我买得了吗", True),
        ("{short}适合我吗", False),
    ],
    "en": [
        ("Can I buy {full}?", True),
        ("How do I buy {short}?", True),
        ("I'd like to invest in {short}", True),
        ("am i allowed to purchase {full}", True),
        ("I want to buy some {short}", True),
        ("is {short} suitable for me?", False),
    ],
}

# Text that only the purchase FAQ's buying steps contain (bot/knowledge/faq.yml "purchase").
BUYING_STEPS = {"zh": ["「买入」", "交易密码"], "en": ["Buy, enter the amount", "trading password"]}
ABOVE_LEVEL = {"zh": "高于您的风险测评结果", "en": "above your assessed risk level"}
EXPIRED = {"zh": "已于 2026-05-31 过期", "en": "expired on 2026-05-31"}
RULE = {"zh": "只有产品风险等级不高于您的风险测评结果时才能购买", "en": "no higher than your risk assessment result"}
HOW_TO_CHECK = "我的 → 风险测评"
ADVISOR_ONLY = {"zh": ["仅通过理财顾问销售", "合格投资者", "300 万元", "50 万元"],
                "en": ["sold only through an advisor", "qualified investors", "3,000,000 CNY", "500,000 CNY"]}


def ask(assistant, sender: str, text: str, profile: dict, lang: str) -> str:
    body = {"sender": sender, "message": text,
            "metadata": {"customer": profile, "channel": "web", "language": lang}}
    request = urllib.request.Request(f"{assistant.rasa_url}/webhooks/rest/webhook", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return "\n".join(r.get("text") or "" for r in json.loads(response.read()))


def violations(answer: str, standing: str, product, lang: str, how_to_buy: bool) -> List[str]:
    """What is wrong with ``answer`` to a question about buying ``product`` (empty: nothing)."""
    found: List[str] = []
    level: Optional[int] = int(standing[1]) if standing.startswith("C") else None
    allowed = level is not None and product.risk_rank <= level and product.code != "EG-PE05"
    steps = [marker for marker in BUYING_STEPS[lang] if marker in answer]
    if steps and not allowed:
        found.append(f"buying steps {steps} for a customer who may not buy it here")
    if allowed and how_to_buy and not steps:
        found.append("no buying steps for a customer who may buy it")
    if allowed and product.minimum_text(lang) not in answer:
        found.append(f"no minimum {product.minimum_text(lang)}")
    if level is not None and product.risk_rank > level:
        if not (ABOVE_LEVEL[lang] in answer and standing in answer and product.risk in answer):
            found.append(f"no statement that {product.risk} is above {standing}")
    if standing == "expired" and EXPIRED[lang] not in answer:
        found.append("the expired assessment is not named")
    if standing == "unverified" and product.code != "EG-PE05" and not (RULE[lang] in answer and HOW_TO_CHECK in answer):
        found.append("the rule and how to check the level are not explained")
    if product.code == "EG-PE05":
        found += [f"PE05 answer lacks {fact!r}" for fact in ADVISOR_ONLY[lang] if fact not in answer]
    if product.code not in answer:
        found.append(f"{product.code} not named")
    if DISCLOSURE[lang] not in answer:
        found.append("no risk disclosure")
    if DISCLOSURE["en" if lang == "zh" else "zh"] in answer:
        found.append("answered in the other language")
    return found


def test_the_matrix_covers_every_standing_product_and_language():
    per_product = {lang: len(phrasings) for lang, phrasings in PHRASINGS.items()}
    assert len(PROFILES) == 8 and len(catalog()) == 6 and min(per_product.values()) >= 5
    assert all(sum(how for _, how in phrasings) >= 4 for phrasings in PHRASINGS.values())


@pytest.mark.parametrize("standing", list(PROFILES))
def test_suitability_of_every_product_for_every_customer(assistant, standing):
    failures: List[str] = []
    cases = 0
    for product, lang in itertools.product(catalog(), ("zh", "en")):
        short = SHORT_NAMES[product.code][0 if lang == "zh" else 1]
        for number, (template, how_to_buy) in enumerate(PHRASINGS[lang]):
            question = template.format(full=product.name(lang), short=short)
            answer = ask(assistant, f"matrix-{standing}-{product.code}-{lang}-{number}", question, PROFILES[standing], lang)
            cases += 1
            failures += [f"{standing} | {question} | {problem}\n    {answer!r}"
                         for problem in violations(answer, standing, product, lang, how_to_buy)]
    print(f"\n{standing}: {cases} cases, {len(failures)} violations")
    assert not failures, "\n".join(failures)
