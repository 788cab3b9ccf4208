"""Handing the conversation to a person: the customer asks (a private-tier customer reaches their
advisory team), accepts the offer after two misunderstandings, or reports an urgent case. The action tells the contact service with a
custom payload ``{"handoff": {...}}``; the contact service queues the conversation and from then
on routes the customer's messages to agents until an agent hands it back."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.base import AssistantAction
from actions.forms import button
from bot import knowledge, service_hours
from bot.language import format_moment
from bot.privacy import mask_sensitive


def handoff_payload(tracker: Tracker, reason: str, urgent: bool = False,
                    complaint_reference: Optional[str] = None) -> Dict[str, Any]:
    """What the contact service needs to queue the conversation (it adds the verified profile)."""
    summary = mask_sensitive(tracker.latest_message.get("text") or "")[:500]
    return {"handoff": {"reason": reason, "urgent": urgent, "summary": summary,
                        "complaint_reference": complaint_reference}}


class ActionHandoff(AssistantAction):
    action_name = "action_handoff"

    def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker, lang: str) -> Optional[List[EventType]]:
        if not service_hours.agents_available():
            buttons = [button(knowledge.message("button_callback", lang), "/request_callback"),
                       button(knowledge.message("button_complaint", lang), "/file_complaint")]
            reopen = format_moment(service_hours.agents_back_at(), lang)
            self.say(dispatcher, knowledge.message("handoff_after_hours", lang, reopen=reopen), lang, buttons=buttons)
            return []
        # Accepting the offer made after two misunderstandings ("yes", or its button).
        reason = "misunderstood" if tracker.get_slot("human_offered") else "customer_request"
        if reason == "customer_request" and tracker.get_slot("customer_tier") == "private":
            # One-to-one service for high-net-worth customers (manual 6.2.2): their advisory
            # team in the private queue, served first.
            reason = "private_advisor"
        key = "handoff_connecting_private" if reason == "private_advisor" else "handoff_connecting"
        self.say(dispatcher, knowledge.message(key, lang), lang)
        dispatcher.utter_message(json_message=handoff_payload(tracker, reason))
        return []
