"""Which product a question is about: named now, asked back when a kind fits several, or the
one talked about before (a follow-up). Shared by the product, purchase and FAQ answers."""

from __future__ import annotations

import json
from typing import List

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.base import AssistantAction, latest_entities
from actions.forms import button
from bot import knowledge, product_resolver, products


def named_products(tracker: Tracker) -> product_resolver.Resolution:
    """What the latest message says about products, with the earlier product as a follow-up.

    A button the assistant offered carries the chosen code as an entity. Only a message with no
    product words at all continues the product talked about before (「那它的手续费呢」): one that
    names a kind fitting several products, or a product we do not sell, never does.
    """
    text = tracker.latest_message.get("text") or ""
    chosen = latest_entities(tracker, "product")
    if text.startswith("/") and chosen:
        return product_resolver.Resolution(codes=tuple(chosen))
    resolution = product_resolver.resolve(text)
    if not resolution.names_a_product and tracker.get_slot("product"):
        return product_resolver.Resolution(codes=(tracker.get_slot("product"),))
    return resolution


def ask_which_product(
    dispatcher: CollectingDispatcher, tracker: Tracker, lang: str, candidates, intent: str
) -> List[EventType]:
    """Ask which of ``candidates`` the customer means, one button each; the tap sends ``intent``
    with the product, and the question asked now is kept to be answered about it."""
    choices = [p for p in map(products.find_product, candidates) if p]
    buttons = [button(p.name(lang), f'/{intent}{json.dumps({"product": p.code})}') for p in choices]
    AssistantAction.say(dispatcher, knowledge.message("product_which", lang), lang, buttons=buttons)
    return [SlotSet("product_question", tracker.latest_message.get("text"))]


def question_asked(tracker: Tracker) -> str:
    """The question being answered: the one kept while asking which product, after a button."""
    text = tracker.latest_message.get("text") or ""
    if text.startswith("/") and tracker.get_slot("product_question"):
        return tracker.get_slot("product_question")
    return text
