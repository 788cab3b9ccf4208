"""Requests whose full flows come with later work (a person, complaints, callbacks,
appointments, fraud): the assistant gives the true route to the service team today."""

from __future__ import annotations

from typing import List, Optional

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.base import AssistantAction
from bot import knowledge, language, service_hours

ROUTES = {
    "request_human": "request_human",
    "affirm": "request_human",  # "yes" to the offer of a person
    "file_complaint": "file_complaint",
    "complaint_status": "complaint_status",
    "request_callback": "request_callback",
    "book_appointment": "book_appointment",
    "report_fraud": "report_fraud",
}


def agents_status(lang: str) -> str:
    if service_hours.agents_available():
        return knowledge.message("agents_open", lang)
    back = service_hours.agents_back_at()
    return knowledge.message("agents_closed", lang, reopen=back.strftime("%m-%d %H:%M"))


class ActionServiceRoute(AssistantAction):
    action_name = "action_service_route"

    def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker, lang: str) -> Optional[List[EventType]]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        route = ROUTES.get(intent, "request_human")
        text = knowledge.message(route, lang)
        if route == "request_human":
            text = language.sentences([agents_status(lang), text], lang)
        self.say(dispatcher, text, lang)
        return []
