"""Questions about buying a product: the suitability verdict for the customer who asks.

Used by the purchase FAQ (actions/faq.py), by recommendation requests that name a product
(actions/products.py) and by the buttons that ask which product a purchase question meant, so
every way towards a purchase passes the same rule (bot/suitability.py).
"""

from __future__ import annotations

from typing import List, Optional

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.base import AssistantAction, is_verified
from actions.forms import button
from actions.product_choice import ask_which_product, named_products, question_asked
from bot import knowledge, language, products, service_hours
from bot.products import Product
from bot.suitability import Assessment, purchase_answer


def assessment_of(tracker: Tracker) -> Assessment:
    """The customer's risk assessment; known only when the latest message came verified."""
    return Assessment(
        verified=is_verified(tracker),
        level=tracker.get_slot("customer_risk_level"),
        expires=tracker.get_slot("customer_risk_expires"),
    )


# What every suitability verdict already says about the product.
VERDICT_ATTRIBUTES = {"minimum", "risk", "eligibility"}


def other_details(question: str, found: List[Product], lang: str) -> List[str]:
    """What else the question asks about the products ("能买吗？要锁定多久", "tell me about it")."""
    asked = [a for a in products.asked_attributes(question) if a not in VERDICT_ATTRIBUTES]
    if not asked and not products.asks_for_profile(question):
        return []
    return [products.describe(p, asked, lang) for p in found]


def say_purchase_answer(dispatcher: CollectingDispatcher, tracker: Tracker, found: List[Product], lang: str,
                        steps: bool = True) -> None:
    """The suitability answer about buying ``found`` and anything else the question asks about
    them, with the disclosure, and a button for an advisor appointment where an advisor is the way on."""
    answer = purchase_answer(found, assessment_of(tracker), lang, service_hours.now().date(), steps=steps)
    text = "\n".join([answer.text, *other_details(question_asked(tracker), found, lang)])
    buttons = [button(knowledge.message("button_book_advisor", lang), "/book_appointment")] if answer.offer_advisor else []
    AssistantAction.say(dispatcher, text, lang, disclosure=True, buttons=buttons)


def answer_purchase_question(dispatcher: CollectingDispatcher, tracker: Tracker, lang: str) -> Optional[List[EventType]]:
    """Answer a question about buying the product(s) it names (or, with no product words at all,
    the one talked about before); a kind that fits several is asked back with buttons, a product
    we do not sell is said to be none of ours. ``None``: it is about no product (the general steps)."""
    resolution = named_products(tracker)
    if resolution.candidates:
        return ask_which_product(dispatcher, tracker, lang, resolution.candidates, "buy_product")
    found = [p for p in map(products.find_product, resolution.codes) if p]
    if found:
        say_purchase_answer(dispatcher, tracker, found, lang)
        return [SlotSet("product", found[-1].code), SlotSet("product_question", None)]
    if resolution.unknown:
        names = language.join([p.name(lang) for p in products.catalog()], lang)
        AssistantAction.say(dispatcher, knowledge.message("product_not_ours", lang, names=names), lang, disclosure=True)
        return [SlotSet("product", None), SlotSet("product_question", None)]
    return None


class ActionAnswerPurchase(AssistantAction):
    """``buy_product``: sent only by the buttons asking which product a purchase question meant."""

    action_name = "action_answer_purchase"

    def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker, lang: str) -> Optional[List[EventType]]:
        events = answer_purchase_question(dispatcher, tracker, lang)
        if events is None:
            self.say(dispatcher, knowledge.load("faq")["purchase"][lang], lang, disclosure=True)
        return events
