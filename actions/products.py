"""Product answers: attributes of one product, product lists, suitable products, market brief."""

from __future__ import annotations

from typing import List, Optional

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.base import AssistantAction, latest_entities
from actions.purchase import say_purchase_answer
from bot import knowledge, language, products, service_hours


class ActionAnswerProduct(AssistantAction):
    """``product_info``: the asked attribute(s) of the named product, or its profile."""

    action_name = "action_answer_product"

    def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker, lang: str) -> Optional[List[EventType]]:
        codes = latest_entities(tracker, "product") or [tracker.get_slot("product")]
        found = [p for p in (products.find_product(code) for code in codes) if p]
        if not found:
            catalog_names = language.join([p.name(lang) for p in products.catalog()], lang)
            self.say(dispatcher, knowledge.message("product_unknown", lang, names=catalog_names), lang, disclosure=True)
            return []
        attributes = products.asked_attributes(tracker.latest_message.get("text"))
        answer = "\n".join(products.describe(p, attributes, lang) for p in found)
        self.say(dispatcher, answer, lang, disclosure=True)
        return [SlotSet("product", found[-1].code)]


class ActionListProducts(AssistantAction):
    """``product_list``: every product, or those of the asked risk levels or currency."""

    action_name = "action_list_products"

    def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker, lang: str) -> Optional[List[EventType]]:
        text = tracker.latest_message.get("text")
        levels = products.requested_levels(text)
        currency = products.requested_currency(text)
        listed = [
            p
            for p in products.catalog()
            if (not levels or p.risk in levels) and (not currency or p.currency == currency)
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
    """``market_update``: the latest daily brief with its date."""

    action_name = "action_market_update"

    def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker, lang: str) -> Optional[List[EventType]]:
        market = knowledge.load("market")
        text = knowledge.message("market_update", lang, date=market["date"], brief=market["brief"][lang])
        self.say(dispatcher, text, lang, disclosure=True)
        return []
