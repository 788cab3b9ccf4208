"""The suitability rule (spec 6.1, 7.3) and what the assistant says about buying one product.

A customer may buy a product only when its risk level Rn is at most their assessed level Cn,
and only with an assessment younger than 12 months. The assistant knows a level only for a
customer the website/app vouched for (verified); to anyone else it explains the rule and how
to look the level up, and promises nothing. EG-PE05 is sold only through an advisor to
qualified investors, whoever asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import List, Optional

from bot import knowledge, language
from bot.products import RISK_LEVELS, Product, valid_risk_level


@dataclass(frozen=True)
class Assessment:
    """What the assistant knows of the customer's risk assessment."""

    verified: bool
    level: Optional[str]  # C1–C5 as the CRM has it, even if expired
    expires: Optional[str]  # ISO date

    def standing(self, today: date) -> str:
        """``unverified``, ``unassessed`` (verified, no level), ``expired`` or ``valid``."""
        if not self.verified:
            return "unverified"
        if not self.level or self.level.upper() not in RISK_LEVELS:
            return "unassessed"
        return "valid" if valid_risk_level(self.level, self.expires, today) else "expired"


@dataclass(frozen=True)
class PurchaseAnswer:
    text: str
    allowed: bool  # the customer may buy (one of) the product(s) here and now
    offer_advisor: bool  # the reply should offer an advisor appointment


def level_name(level: str, lang: str) -> str:
    """「稳健型」 / "moderately conservative" for C2."""
    return knowledge.message(f"risk_level_{level.upper()}", lang)


def permitted_product_levels(level: str) -> str:
    """Product risk levels a customer at ``level`` may buy: "R1" for C1, "R1–R3" for C3."""
    rank = int(level[1])
    return "R1" if rank == 1 else f"R1–R{rank}"


def is_advisor_only(product: Product) -> bool:
    return bool(product.raw.get("advisor_only"))


def verdict(product: Product, assessment: Assessment, lang: str, today: date) -> PurchaseAnswer:
    """Whether this customer may buy ``product`` here and now, said in ``lang`` (no buying steps)."""
    fields = product.fields(lang)
    standing = assessment.standing(today)
    level = (assessment.level or "").upper()
    parts: List[str] = []
    if standing == "expired":
        parts.append(knowledge.message("suitability_expired", lang, level=level, expires=assessment.expires[:10], **fields))
    elif standing == "unassessed":
        parts.append(knowledge.message("suitability_unassessed", lang, **fields))
    elif standing == "valid" and product.risk_rank > int(level[1]):
        parts.append(knowledge.message("suitability_above_level", lang, level=level,
                                       level_name=level_name(level, lang), **fields))
    if is_advisor_only(product):
        if standing == "valid" and product.risk_rank <= int(level[1]):
            parts.append(knowledge.message("suitability_level_covers", lang, level=level,
                                           level_name=level_name(level, lang), **fields))
        parts.append(knowledge.message("suitability_advisor_only", lang, **fields))
        return PurchaseAnswer(language.sentences(parts, lang), allowed=False, offer_advisor=True)
    if standing == "unverified":
        parts.append(knowledge.message("suitability_unverified", lang, **fields))
        return PurchaseAnswer(language.sentences(parts, lang), allowed=False, offer_advisor=False)
    if parts:  # expired, unassessed or above the level
        return PurchaseAnswer(language.sentences(parts, lang), allowed=False, offer_advisor=standing != "unassessed")
    text = knowledge.message("suitability_allowed", lang, level=level, level_name=level_name(level, lang), **fields)
    return PurchaseAnswer(text, allowed=True, offer_advisor=False)


def purchase_answer(found: List[Product], assessment: Assessment, lang: str, today: date,
                    steps: bool = True) -> PurchaseAnswer:
    """The answer to a question about buying ``found``: the verdict on each product, then the
    buying steps (the purchase FAQ) if the customer may buy one of them and ``steps`` (a
    recommendation question gets the verdicts only)."""
    verdicts = [verdict(p, assessment, lang, today) for p in found]
    lines = [v.text for v in verdicts]
    allowed = any(v.allowed for v in verdicts)
    if allowed and steps:
        lines.append(knowledge.load("faq")["purchase"][lang].strip())
    return PurchaseAnswer("\n".join(lines), allowed=allowed, offer_advisor=any(v.offer_advisor for v in verdicts))


def own_level_answer(assessment: Assessment, lang: str, today: date) -> Optional[str]:
    """The answer to "what is my risk level" for a verified customer; ``None`` for anyone else
    (they get the questionnaire how-to, which says where to look it up)."""
    standing = assessment.standing(today)
    if standing == "unverified":
        return None
    if standing == "unassessed":
        return knowledge.message("own_level_unassessed", lang)
    level = assessment.level.upper()
    values = {"level": level, "level_name": level_name(level, lang), "expires": (assessment.expires or "")[:10]}
    if standing == "expired":
        return knowledge.message("own_level_expired", lang, **values)
    if not assessment.expires:
        return knowledge.message("own_level_no_expiry", lang, permitted=permitted_product_levels(level), **values)
    return knowledge.message("own_level", lang, permitted=permitted_product_levels(level), **values)


def asks_own_level(text: Optional[str]) -> bool:
    """Whether a risk-assessment question asks for the customer's own result ("我的风险等级是什么",
    "what's my risk level") rather than how the questionnaire works or how to change it."""
    lowered = (text or "").lower()
    words = knowledge.load("attributes")["own_risk_level"]
    return any(w.lower() in lowered for w in words["asks"]) and not any(w.lower() in lowered for w in words["not"])
