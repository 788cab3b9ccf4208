"""Social turns, the honest answer to "are you a bot?", and misunderstandings."""

from __future__ import annotations

from typing import List, Optional

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.base import AssistantAction
from actions.products import answer_product, asks_about_a_product
from bot import knowledge, language

MISUNDERSTOOD_INTENTS = {"nlu_fallback", "out_of_scope"}
MISUNDERSTANDINGS_BEFORE_OFFER = 2


def misunderstood_in_a_row(tracker: Tracker) -> int:
    """How many of the latest customer messages in a row the assistant could not handle."""
    count = 0
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if intent not in MISUNDERSTOOD_INTENTS:
            break
        count += 1
    return count


class ActionSmallTalk(AssistantAction):
    """greet, goodbye, thank, affirm, deny."""

    action_name = "action_small_talk"

    def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker, lang: str) -> Optional[List[EventType]]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        key = intent if intent in ("greet", "goodbye", "thank", "affirm", "deny") else "affirm"
        self.say(dispatcher, knowledge.message(key, lang), lang)
        return []


class ActionBotChallenge(AssistantAction):
    action_name = "action_bot_challenge"

    def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker, lang: str) -> Optional[List[EventType]]:
        self.say(dispatcher, knowledge.message("bot_challenge", lang), lang)
        return []


class ActionHandleMisunderstanding(AssistantAction):
    """out_of_scope and low confidence: say what the assistant can do; the second time in a
    row, offer a person (buttons "Talk to a person" / "No, thanks"). A message the classifier
    could not place that names one of our products and asks about it is answered about it."""

    action_name = "action_handle_misunderstanding"

    def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker, lang: str) -> Optional[List[EventType]]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if intent == "nlu_fallback" and asks_about_a_product(tracker):  # 「私募那个起投多少」
            return answer_product(dispatcher, tracker, lang)
        if misunderstood_in_a_row(tracker) >= MISUNDERSTANDINGS_BEFORE_OFFER:
            buttons = [
                {"title": knowledge.message("button_human", lang), "payload": "/request_human"},
                {"title": knowledge.message("button_no_thanks", lang), "payload": "/deny"},
            ]
            self.say(dispatcher, knowledge.message("offer_human", lang), lang, buttons=buttons)
            return [SlotSet("human_offered", True)]
        opening = knowledge.message("out_of_scope" if intent == "out_of_scope" else "fallback", lang)
        self.say(dispatcher, language.sentences([opening, knowledge.message("capabilities", lang)], lang), lang)
        return []
