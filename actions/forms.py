"""What the assistant's forms (complaint, callback, appointment) share.

Every answer inside a form is taken as free text and the form's validation decides what it
means; only a confident "cancel" stops a form, so an answer the NLU is unsure about ("Change the
category") is never taken for one. Forms end with a summary to confirm; its buttons reopen a
field. When a form ends, ``action_form_done`` clears its slots (and says so if it was stopped).
Side effects (filing, booking) happen in the validation when the customer confirms, keyed on
the contact service's message id, so a retried message has them exactly once.
"""

from __future__ import annotations

from abc import abstractmethod
from datetime import datetime
from typing import Any, Dict, Iterable, List, Optional, Text, Tuple

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.base import AssistantAction, latest_metadata, understanding_marker
from bot import knowledge
from bot.service_hours import now

STOP_CONFIDENCE = 0.8
# Each form's slots, in the order they are asked, and the slot holding what it registered.
FORM_SLOTS = {
    "complaint_form": ["complaint_description", "complaint_category", "complaint_product", "complaint_outcome",
                       "complaint_contact", "complaint_confirmed"],
    "callback_form": ["callback_name", "callback_mobile", "callback_time", "callback_confirmed"],
    "appointment_form": ["appointment_city", "appointment_time", "appointment_name", "appointment_mobile",
                         "appointment_confirmed"],
    "survey_comment_form": ["survey_comment"],
}
REFERENCE_SLOTS = {"complaint_form": "complaint_reference", "callback_form": "callback_reference",
                   "appointment_form": "appointment_reference"}


def button(title: str, payload: Optional[str] = None) -> Dict[str, str]:
    return {"title": title, "payload": payload or title}


def intent_of(tracker: Tracker) -> Optional[str]:
    return (tracker.latest_message.get("intent") or {}).get("name")


def wants_to_stop(tracker: Tracker) -> bool:
    """A clear request to stop (the cancel button, or "cancel" understood with confidence)."""
    intent = tracker.latest_message.get("intent") or {}
    return intent.get("name") == "cancel" and (intent.get("confidence") or 0) >= STOP_CONFIDENCE


def field_to_change(answer: str, change_words: Dict[str, Iterable[str]]) -> Optional[str]:
    """The field a customer asks to change at the summary ("修改类别", "Change the time")."""
    lowered = answer.lower()
    return next((field for field, words in change_words.items() if any(w in lowered for w in words)), None)


def receipt(tracker: Tracker) -> Tuple[str, datetime]:
    """The idempotency key and the moment of receipt of the latest customer message."""
    stored = latest_metadata(tracker).get("message") or {}
    if stored.get("id") is not None:
        received = datetime.fromisoformat(stored["received_at"]) if stored.get("received_at") else now()
        return f"{tracker.sender_id}:message:{stored['id']}", received
    # Not through the contact service (rasa shell, direct REST): key on the user event itself.
    user_events = [e for e in tracker.events if e.get("event") == "user"]
    stamp = user_events[-1].get("timestamp") if user_events else None
    return f"{tracker.sender_id}:event:{stamp}", now()


def origin(tracker: Tracker) -> Dict[str, Any]:
    """Where a complaint or booking comes from: the conversation, the verified customer, the channel."""
    metadata = latest_metadata(tracker)
    customer = metadata.get("customer") or {}
    return {
        "conversation_id": tracker.sender_id,
        "customer_id": customer.get("id") if customer.get("verified") else None,
        "channel": metadata.get("channel") or "rest",
    }


class StoppableFormValidation(FormValidationAction):
    """A form validation that ends the form when the customer asks to stop."""

    @abstractmethod
    def name(self) -> Text:
        """``validate_<form>``."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        if wants_to_stop(tracker):  # ends the form; action_form_done says so
            return [SlotSet("form_cancelled", True), SlotSet("requested_slot", None)]
        understanding_marker(dispatcher, tracker, self.name())
        return await super().run(dispatcher, tracker, domain)

    def summary_answer(self, slot: Text, change_words: Dict[str, Iterable[str]], value: Any,
                       dispatcher: CollectingDispatcher, tracker: Tracker, lang: str) -> Dict[Text, Any]:
        """The answer to a summary other than "yes": reopen a field, or ask again."""
        field = field_to_change(str(value or ""), change_words)
        if field:
            return {field: None, slot: None}
        dispatcher.utter_message(text=knowledge.message("form_confirm_unclear", lang))
        return {slot: None}


class AskSlot(AssistantAction):
    """Asks for one field of a form, in the customer's language."""

    def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker, lang: str) -> Optional[List[EventType]]:
        text, buttons = self.question(tracker, lang)
        self.say(dispatcher, text, lang, buttons=buttons)
        return []

    def question(self, tracker: Tracker, lang: str) -> Tuple[str, List[Dict[str, str]]]:
        raise NotImplementedError


class ActionFormDone(AssistantAction):
    """After a form: say so if the customer stopped it (what it registered was told already),
    and clear its slots for the next time."""

    action_name = "action_form_done"

    def respond(self, dispatcher, tracker, lang):
        form = tracker.latest_action_name if tracker.latest_action_name in FORM_SLOTS else None
        forms = [form] if form else list(FORM_SLOTS)
        registered = REFERENCE_SLOTS.get(form)
        if form and tracker.get_slot("form_cancelled") and not (registered and tracker.get_slot(registered)):
            self.say(dispatcher, knowledge.message(f"{form}_cancelled", lang), lang)
        slots = ([s for f in forms for s in FORM_SLOTS[f]] + [REFERENCE_SLOTS[f] for f in forms if f in REFERENCE_SLOTS]
                 + ["form_cancelled"])
        return [SlotSet(slot, None) for slot in slots]
