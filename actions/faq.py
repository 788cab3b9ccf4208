"""FAQ answers: the sub-intent chosen by the response selector, answered from ``faq.yml``."""

from __future__ import annotations

from typing import List, Optional

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.base import AssistantAction, latest_entities
from actions.product_choice import ask_which_product
from actions.purchase import answer_purchase_question, assessment_of
from bot import knowledge, product_resolver, products, service_hours
from bot.suitability import asks_own_level, own_level_answer

# Topics that describe how products are bought, sold and charged carry the risk disclosure,
# and with a product named they add that product's own figure.
PRODUCT_TOPICS = {"purchase": "minimum", "redemption": "redemption", "fees": "fees"}
# A question about the risk questionnaire that names a product adds the product's risk level.
PRODUCT_DETAILS = {**PRODUCT_TOPICS, "risk_assessment": "risk"}


def faq_topic(tracker: Tracker) -> Optional[str]:
    """The FAQ sub-intent of the latest message ("faq/fees" → "fees")."""
    selectors = tracker.latest_message.get("response_selector") or {}
    # A stock ResponseSelector without `retrieval_intent` files its answer under "default".
    selector = selectors.get("faq") or selectors.get("default") or {}
    key = (selector.get("response") or {}).get("intent_response_key") or ""
    topic = key.partition("/")[2]
    return topic if topic in knowledge.load("faq") else None


class ActionAnswerFaq(AssistantAction):
    """The FAQ answer; buying a named product gets the suitability verdict instead of the steps,
    and a verified customer asking for their own risk level gets it."""

    action_name = "action_answer_faq"

    def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker, lang: str) -> Optional[List[EventType]]:
        topic = faq_topic(tracker)
        if topic is None:
            self.say(dispatcher, knowledge.message("capabilities", lang), lang)
            return []
        if topic == "purchase":
            events = answer_purchase_question(dispatcher, tracker, lang)
            if events is not None:
                return events
        if topic == "risk_assessment" and asks_own_level(tracker.latest_message.get("text")):
            own = own_level_answer(assessment_of(tracker), lang, service_hours.now().date())
            if own:
                self.say(dispatcher, own, lang, disclosure=True)
                return []
        answer = knowledge.load("faq")[topic][lang]
        named = [p for p in map(products.find_product, latest_entities(tracker, "product")) if p]
        candidates = product_resolver.resolve(tracker.latest_message.get("text")).candidates
        if topic in PRODUCT_DETAILS and candidates and not named:  # "债基赎回要几天": which one?
            return ask_which_product(dispatcher, tracker, lang, candidates, "product_info")
        if topic in PRODUCT_DETAILS and named:
            answer += "\n" + "\n".join(products.describe(p, [PRODUCT_DETAILS[topic]], lang) for p in named)
        self.say(dispatcher, answer, lang, disclosure=topic in PRODUCT_TOPICS or bool(named))
        return []
