"""The product catalog, what customers ask about it, and the suitability rule (spec 6.1, 7.3)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Dict, Iterable, List, Optional

from bot import knowledge, product_resolver
from bot.normalize import simplified

RISK_LEVELS = ("C1", "C2", "C3", "C4", "C5")
# In the order answers list them.
ATTRIBUTES = ("type", "minimum", "fees", "risk", "redemption", "lockup", "latest", "eligibility", "guarantee")
_CURRENCY_NAMES = {"zh": {"CNY": "元", "USD": "美元"}, "en": {"CNY": "CNY", "USD": "USD"}}
_EXPLICIT_LEVEL = re.compile(r"\bR([1-5])\b", re.IGNORECASE)


@dataclass(frozen=True)
class Product:
    """One product of the catalog, as read from ``knowledge/products.yml``."""

    code: str
    risk: str
    minimum: Decimal
    currency: str
    raw: Dict[str, Any]

    @property
    def risk_rank(self) -> int:
        return int(self.risk[1])

    def text(self, field: str, language: str) -> str:
        return self.raw[field][language]

    def name(self, language: str) -> str:
        return self.text("name", language)

    def restriction(self, language: str) -> Optional[str]:
        """Who may buy it beyond the risk level (qualified investors, advisor only), if anyone."""
        restriction = self.raw.get("restriction")
        return restriction[language] if restriction else None

    def minimum_text(self, language: str) -> str:
        return f"{self.minimum:,} {_CURRENCY_NAMES[language][self.currency]}"

    def fields(self, language: str) -> Dict[str, str]:
        """The values every product message template may use."""
        fee = self.raw["subscription_fee"]
        return {
            "code": self.code,
            "name": self.name(language),
            "type": self.text("type", language),
            "risk": self.risk,
            "min_level": f"C{self.risk_rank}",
            "minimum": self.minimum_text(language),
            "subscription_fee": ("免认购费" if language == "zh" else "none") if fee == "0" else fee,
            "management_fee": self.text("management_fee", language),
            "redemption": self.text("redemption", language),
            "lockup": self.text("lockup", language),
        }


def catalog() -> List[Product]:
    """All products, in catalog order."""
    return [
        Product(
            code=entry["code"],
            risk=entry["risk"],
            minimum=Decimal(entry["minimum"]["amount"]),
            currency=entry["minimum"]["currency"],
            raw=entry,
        )
        for entry in knowledge.load("products")["products"]
    ]


def find_product(code: Optional[str]) -> Optional[Product]:
    if not code:
        return None
    return next((p for p in catalog() if p.code == code.upper()), None)


def figures_date() -> str:
    return str(knowledge.load("products")["figures_as_of"])


def asked_attributes(text: Optional[str]) -> List[str]:
    """Which product attributes a message asks about, in answer order (empty: a profile).

    Product names are left out first, so 「美元收益是什么类型的产品」 asks for the type, not for
    the return (收益) its name contains.
    """
    lowered = simplified(text or "").lower()
    for mention in product_resolver.resolve(text).mentions:
        lowered = lowered[:mention.start] + " " * (mention.end - mention.start) + lowered[mention.end:]
    words = knowledge.load("attributes")["product_attributes"]
    return [attr for attr in ATTRIBUTES if any(w.lower() in lowered for w in words[attr])]


def asks_for_profile(text: Optional[str]) -> bool:
    """Whether a message asks what a product is ("tell me about …", 「介绍一下…」)."""
    lowered = simplified(text or "").lower()
    return any(w.lower() in lowered for w in knowledge.load("attributes")["profile_words"])


def describe(product: Product, attributes: Iterable[str], language: str) -> str:
    """Answer about ``product``: each asked attribute, or a short profile when none was asked."""
    fields = product.fields(language)
    lines = []
    for attribute in attributes or ["profile", "restriction"]:
        if attribute == "latest":
            latest = product.raw["latest"]
            value = latest["value"]
            if latest.get("currency"):
                value = f"{value} {_CURRENCY_NAMES[language][latest['currency']]}"
            lines.append(
                knowledge.message(
                    f"product_latest_{latest['kind']}", language, value=value, date=figures_date(), **fields
                )
            )
        elif attribute == "restriction":
            if product.restriction(language):
                lines.append(knowledge.message("product_restriction", language, restriction=product.restriction(language), **fields))
        else:
            lines.append(knowledge.message(f"product_{attribute}", language, **fields))
            if attribute == "eligibility" and product.restriction(language):
                lines.append(knowledge.message("product_restriction", language, restriction=product.restriction(language), **fields))
    return "\n".join(lines)


def requested_levels(text: Optional[str]) -> List[str]:
    """Product risk levels a list request is limited to ("low risk" → R1, R2); empty: all."""
    lowered = (text or "").lower()
    explicit = sorted({f"R{n}" for n in _EXPLICIT_LEVEL.findall(lowered)})
    if explicit:
        return explicit
    for rule in knowledge.load("attributes")["risk_filters"]:
        if any(w.lower() in lowered for w in rule["words"]):
            return list(rule["levels"])
    return []


def requested_currency(text: Optional[str]) -> Optional[str]:
    lowered = (text or "").lower()
    for currency, words in knowledge.load("attributes")["currency_filters"].items():
        if any(w.lower() in lowered for w in words):
            return currency
    return None


def list_line(product: Product, language: str) -> str:
    line = knowledge.message("product_list_line", language, **product.fields(language))
    note = product.raw.get("note")
    if not note:
        return line
    return f"{line}（{note['zh']}）" if language == "zh" else f"{line} ({note['en']})"


def valid_risk_level(level: Optional[str], expires: Optional[str], today: date) -> Optional[str]:
    """The customer's risk level if it is known and unexpired (spec 6.1: valid 12 months)."""
    if not level or level.upper() not in RISK_LEVELS:
        return None
    if expires and date.fromisoformat(expires[:10]) < today:
        return None
    return level.upper()


def suitable_products(level: str) -> List[Product]:
    """Products a customer at ``level`` (C1–C5) may buy: product Rn ≤ customer Cn."""
    rank = int(level[1])
    return [p for p in catalog() if p.risk_rank <= rank]
