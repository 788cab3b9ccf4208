"""``branch_locator``: address, hours and phone of the branch in the asked city, or all of them."""

from __future__ import annotations

from typing import List, Optional

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.base import AssistantAction, latest_entities
from bot import branches, knowledge


class ActionFindBranch(AssistantAction):
    action_name = "action_find_branch"

    def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker, lang: str) -> Optional[List[EventType]]:
        found = [b for b in map(branches.find_branch, latest_entities(tracker, "city")) if b]
        if found:
            text = "\n".join(branches.describe(b, lang) for b in found)
        else:
            lines = [branches.describe(b, lang) for b in branches.branches()]
            text = "\n".join([knowledge.message("branch_list_header", lang), *lines])
        self.say(dispatcher, text, lang)
        return []
