"""Questions about buying a named product: the suitability verdict for the customer who asks.

Used by the purchase FAQ (actions/faq.py) and by recommendation requests that name a product
(actions/products.py), so every way towards a purchase passes the same rule (bot/suitability.py).
"""

from __future__ import annotations

from typing import List

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.base import AssistantAction, is_verified, latest_entities
from actions.forms import button
from bot import knowledge, products, service_hours
from bot.products import Product
from bot.suitability import Assessment, purchase_answer


def assessment_of(tracker: Tracker) -> Assessment:
    """The customer's risk assessment; known only when the latest message came verified."""
    return Assessment(
        verified=is_verified(tracker),
        level=tracker.get_slot("customer_risk_level"),
        expires=tracker.get_slot("customer_risk_expires"),
    )


def names_some_product(text: str) -> bool:
    lowered = (text or "").lower()
    return any(word.lower() in lowered for word in knowledge.load("attributes")["product_words"])


def products_asked_about(tracker: Tracker) -> List[Product]:
    """The products named in the latest message; with none named and no product words at all
    ("那我能买吗"), the product talked about before."""
    named = [p for p in map(products.find_product, latest_entities(tracker, "product")) if p]
    if named or names_some_product(tracker.latest_message.get("text")):
        return named
    earlier = products.find_product(tracker.get_slot("product"))
    return [earlier] if earlier else []


def say_purchase_answer(dispatcher: CollectingDispatcher, tracker: Tracker, found: List[Product], lang: str,
                        steps: bool = True) -> None:
    """The suitability answer about buying ``found`` with the disclosure, and a button for an
    advisor appointment where an advisor is the way on."""
    answer = purchase_answer(found, assessment_of(tracker), lang, service_hours.now().date(), steps=steps)
    buttons = [button(knowledge.message("button_book_advisor", lang), "/book_appointment")] if answer.offer_advisor else []
    AssistantAction.say(dispatcher, answer.text, lang, disclosure=True, buttons=buttons)
