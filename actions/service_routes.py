"""A request for a person: whether agents are in now, and how to reach them (the handoff to
the live agent console comes with later work)."""

from __future__ import annotations

from typing import List, Optional

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.base import AssistantAction
from bot import knowledge, language, service_hours


def agents_status(lang: str) -> str:
    if service_hours.agents_available():
        return knowledge.message("agents_open", lang)
    back = service_hours.agents_back_at()
    return knowledge.message("agents_closed", lang, reopen=back.strftime("%m-%d %H:%M"))


class ActionServiceRoute(AssistantAction):
    action_name = "action_service_route"

    def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker, lang: str) -> Optional[List[EventType]]:
        self.say(dispatcher, language.sentences([agents_status(lang), knowledge.message("request_human", lang)], lang), lang)
        return []
