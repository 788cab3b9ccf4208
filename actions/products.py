"""Product answers: attributes of one product, product lists, suitable products, market brief."""

from __future__ import annotations

from typing import List, Optional

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.base import AssistantAction, latest_entities
from actions.product_choice import ask_which_product, named_products, question_asked
from actions.purchase import say_purchase_answer
from bot import knowledge, language, product_resolver, products, service_hours


def asks_about_a_product(tracker: Tracker) -> bool:
    """Whether the latest message names one of our products (or a kind of them) and asks
    something about it: "私募那个起投多少", "how's Steady Bond doing" — however it was classified."""
    text = tracker.latest_message.get("text") or ""
    named = product_resolver.resolve(text)
    return bool(named.codes or named.candidates) and bool(products.asked_attributes(text) or products.asks_for_profile(text))


def answer_product(dispatcher: CollectingDispatcher, tracker: Tracker, lang: str) -> List[EventType]:
    """The asked attribute(s) of the named product(s), or a profile of each (see
    :class:`ActionAnswerProduct`); other actions hand over messages that are really about a product."""
    resolution = named_products(tracker)
    if resolution.candidates:
        return ask_which_product(dispatcher, tracker, lang, resolution.candidates, "product_info")
    found = [p for p in map(products.find_product, resolution.codes) if p]
    if not found:
        key = "product_not_ours" if resolution.unknown else "product_unknown"
        catalog_names = language.join([p.name(lang) for p in products.catalog()], lang)
        AssistantAction.say(dispatcher, knowledge.message(key, lang, names=catalog_names), lang, disclosure=True)
        return [SlotSet("product", None), SlotSet("product_question", None)]
    attributes = products.asked_attributes(question_asked(tracker))
    answer = "\n".join(products.describe(p, attributes, lang) for p in found)
    AssistantAction.say(dispatcher, answer, lang, disclosure=True)
    return [SlotSet("product", found[-1].code), SlotSet("product_question", None)]


class ActionAnswerProduct(AssistantAction):
    """``product_info``: the asked attribute(s) of the named product(s), or a profile of each."""

    action_name = "action_answer_product"

    def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker, lang: str) -> Optional[List[EventType]]:
        return answer_product(dispatcher, tracker, lang)


class ActionListProducts(AssistantAction):
    """``product_list``: every product, or those of the asked kinds, risk levels or currency."""

    action_name = "action_list_products"

    def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker, lang: str) -> Optional[List[EventType]]:
        text = tracker.latest_message.get("text")
        if asks_about_a_product(tracker) and products.asked_attributes(text):  # 「私募产品保本吗」
            return answer_product(dispatcher, tracker, lang)
        levels = products.requested_levels(text)
        currency = products.requested_currency(text)
        named = product_resolver.resolve(text)
        kinds = set(named.codes or named.candidates)  # "list your bond funds" → the bond funds
        listed = [
            p
            for p in products.catalog()
            if (not levels or p.risk in levels) and (not currency or p.currency == currency) and (not kinds or p.code in kinds)
        ]
        if levels:
            header = knowledge.message("product_list_filtered_header", lang, levels=language.join(levels, lang))
        else:
            header = knowledge.message("product_list_header", lang)
        lines = [products.list_line(p, lang) for p in listed] or [knowledge.message("product_list_empty", lang)]
        self.say(dispatcher, "\n".join([header, *lines]), lang, disclosure=True)
        return []


class ActionRecommendProducts(AssistantAction):
    """``recommend_product``: only products within the customer's valid risk level (spec 6.1).

    The assistant never picks a product for the customer; it lists what the customer may buy,
    and with no valid risk assessment it names none and explains the questionnaire instead.
    Asked about named products ("成长精选适合我吗"), it gives the suitability verdict on each.
    """

    action_name = "action_recommend_products"

    def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker, lang: str) -> Optional[List[EventType]]:
        named = [p for p in map(products.find_product, latest_entities(tracker, "product")) if p]
        if named:
            say_purchase_answer(dispatcher, tracker, named, lang, steps=False)
            return [SlotSet("product", named[-1].code)]
        stated_level = tracker.get_slot("customer_risk_level")
        level = products.valid_risk_level(
            stated_level, tracker.get_slot("customer_risk_expires"), service_hours.now().date()
        )
        if level is None:
            key = "recommend_expired" if stated_level else "recommend_unknown"
            self.say(dispatcher, knowledge.message(key, lang), lang, disclosure=True)
            return []
        lines = [products.list_line(p, lang) for p in products.suitable_products(level)]
        text = "\n".join(
            [knowledge.message("recommend_header", lang, level=level), *lines, knowledge.message("recommend_footer", lang)]
        )
        self.say(dispatcher, text, lang, disclosure=True)
        return []


class ActionMarketUpdate(AssistantAction):
    """``market_update``: the latest daily brief with its date; about a named product, its figures."""

    action_name = "action_market_update"

    def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker, lang: str) -> Optional[List[EventType]]:
        if product_resolver.resolve(tracker.latest_message.get("text")).codes:  # "how's Steady Bond doing"
            return answer_product(dispatcher, tracker, lang)
        market = knowledge.load("market")
        text = knowledge.message("market_update", lang, date=market["date"], brief=market["brief"][lang])
        self.say(dispatcher, text, lang, disclosure=True)
        return []
