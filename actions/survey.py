"""The satisfaction survey (bot/surveys.py): asked when an agent hands the conversation back
(the contact service sends ``/EXTERNAL_survey``) or when the customer says goodbye after a real
conversation; the rating comes as a button (``/rate{"rating": "4"}``) or typed ("4分", "five
stars"); then an optional comment in ``survey_comment_form`` (its Skip button is a cancel).

A rating is an ordinary intent, not a form: a customer who ignores the survey and asks
something else simply gets an answer.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.base import AssistantAction, latest_entities, latest_metadata, reply_language_of
from actions.forms import AskSlot, StoppableFormValidation, button, intent_of
from bot import knowledge
from bot.core.db import sessions_for
from bot.core.settings import database_url
from bot.privacy import mask_sensitive
from bot.service_hours import now
from bot.surveys import SurveyDesk, parse_rating

SOCIAL_INTENTS = {"greet", "goodbye", "thank", "affirm", "deny", "rate", "EXTERNAL_survey"}
LOW_RATING = 2


def desk() -> SurveyDesk:
    return SurveyDesk(sessions_for(database_url()))


def rating_buttons() -> List[Dict[str, str]]:
    return [button(str(n), f'/rate{{"rating": "{n}"}}') for n in range(1, 6)]


# bot.tracker_store.EARLIER_INTENTS, not imported from there: that would load Rasa into the action server.
EARLIER_INTENTS = "earlier_intents"


def had_a_real_conversation(tracker: Tracker) -> bool:
    """Whether the customer asked for something in this session (not just hello and goodbye),
    counting the messages a long conversation's compaction left out (bot/tracker_store.py)."""
    intents = []
    for event in tracker.events_after_latest_restart():
        if event.get("event") == "user":
            intents.append(((event.get("parse_data") or {}).get("intent") or {}).get("name"))
        elif event.get("event") == "session_started":
            intents += (event.get("metadata") or {}).get(EARLIER_INTENTS) or []
    return any(intent not in SOCIAL_INTENTS for intent in intents)


class ActionAskSurvey(AssistantAction):
    """Ask for a 1–5 rating. After an agent's service always; after a goodbye only when the
    customer asked for something and has not rated the conversation in the last day."""

    action_name = "action_ask_survey"

    def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker, lang: str) -> Optional[List[EventType]]:
        after_agent = intent_of(tracker) == "EXTERNAL_survey"
        if not after_agent and not had_a_real_conversation(tracker):
            return []
        channel = latest_metadata(tracker).get("channel") or "rest"
        survey = desk().ask(tracker.sender_id, channel, lang, "agent" if after_agent else "bot", now())
        if survey is None:
            return []
        key = "survey_ask_agent" if survey.trigger == "agent" else "survey_ask_bot"
        self.say(dispatcher, knowledge.message(key, lang), lang, buttons=rating_buttons())
        return []


class ActionRecordRating(AssistantAction):
    """Store the rating on the survey asked last, thank the customer and ask for a comment.
    A rating nobody asked for (or one too late) is thanked like any kind word."""

    action_name = "action_record_rating"

    def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker, lang: str) -> Optional[List[EventType]]:
        given = latest_entities(tracker, "rating")
        rating = parse_rating(given[0] if given else tracker.latest_message.get("text"))
        survey = desk().rate(tracker.sender_id, rating, now()) if rating else None
        if survey is None:
            self.say(dispatcher, knowledge.message("thank", lang), lang)
            return [SlotSet("survey_rated", False)]
        self.say(dispatcher, knowledge.message("survey_rated", lang, rating=rating), lang)
        return [SlotSet("survey_rated", True)]  # the rules start the comment form


class AskSurveyComment(AskSlot):
    action_name = "action_ask_survey_comment"

    def question(self, tracker: Tracker, lang: str):
        given = latest_entities(tracker, "rating")
        rating = parse_rating(given[0] if given else tracker.latest_message.get("text"))
        key = "survey_ask_comment_low" if rating and rating <= LOW_RATING else "survey_ask_comment"
        return knowledge.message(key, lang), [button(knowledge.message("button_skip", lang), "/cancel")]


class ValidateSurveyCommentForm(StoppableFormValidation):
    """Whatever the customer writes next is their comment (Skip ends the form instead)."""

    def name(self) -> Text:
        return "validate_survey_comment_form"

    def validate_survey_comment(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                domain: DomainDict) -> Dict[Text, Any]:
        lang = reply_language_of(tracker)
        text = str(value or "").strip()
        if text:
            desk().comment(tracker.sender_id, mask_sensitive(text), now())
        dispatcher.utter_message(text=knowledge.message("survey_comment_thanks", lang))
        return {"survey_comment": text or "-"}
