"""What every action of the assistant shares: the reply language and the risk disclosure."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot import knowledge, language


def latest_entities(tracker: Tracker, entity: str) -> List[str]:
    """Values of ``entity`` in the latest message, in order, without repeats."""
    values: List[str] = []
    for found in tracker.latest_message.get("entities") or []:
        if found.get("entity") == entity and found.get("value") not in values:
            values.append(found["value"])
    return values


def latest_metadata(tracker: Tracker) -> Dict[str, Any]:
    """Metadata the contact service sent with the latest message (customer profile, channel)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return event.get("metadata") or {}
    return {}


# Slot ← key of the customer profile the contact service vouches for (docs/contact-api.md).
PROFILE_SLOTS = {"customer_tier": "tier", "customer_risk_level": "risk_level", "customer_risk_expires": "risk_expires"}


def profile_slot_events(tracker: Tracker) -> List[EventType]:
    """Keep the customer slots equal to the verified profile sent with the latest message."""
    profile = latest_metadata(tracker).get("customer")
    if not isinstance(profile, dict):
        return []
    return [
        SlotSet(slot, profile.get(key))
        for slot, key in PROFILE_SLOTS.items()
        if tracker.get_slot(slot) != profile.get(key)
    ]


# Form questions whose answers (a name, a mobile number, an email address) are data in any
# script: "Zhang Wei" in a Chinese conversation is not a switch to English.
DATA_SLOTS = {"callback_name", "callback_mobile", "appointment_name", "appointment_mobile", "complaint_contact"}


def slot_answered(tracker: Tracker) -> Optional[str]:
    """The form field the latest customer message answered (``requested_slot`` when it came)."""
    requested, answered = None, None
    for event in tracker.events:
        if event.get("event") == "slot" and event.get("name") == "requested_slot":
            requested = event.get("value")
        elif event.get("event") == "user":
            answered = requested
    return answered


def reply_language_of(tracker: Tracker) -> str:
    """The language of the customer's latest message, else the conversation's.

    A tapped button (the contact service says so in the metadata) and the answer to a name,
    number or contact question keep the conversation's language: a payload such as "chat" or
    "Shanghai" and a name in Latin letters say nothing about the customer's language.
    """
    metadata = latest_metadata(tracker)
    current_language = tracker.get_slot("language") or metadata.get("language")
    tapped = bool((metadata.get("message") or {}).get("button"))
    if current_language in language.SUPPORTED and (tapped or slot_answered(tracker) in DATA_SLOTS):
        return current_language
    return language.reply_language(tracker.latest_message.get("text"), current_language)


def understanding_marker(dispatcher: CollectingDispatcher, tracker: Tracker, action: Text) -> None:
    """Tell the contact service, ahead of an action's messages, what the assistant understood in
    the latest message, which action answers and in which language (a ``custom`` item it stores
    with the messages: the supervisors' accuracy and compliance indicators are computed from it,
    and the conversation's language follows the assistant's). A FAQ question counts as
    ``faq/<topic>``."""
    intent = tracker.latest_message.get("intent") or {}
    name = intent.get("name")
    if name == "faq":
        selectors = tracker.latest_message.get("response_selector") or {}
        selected = (selectors.get("faq") or selectors.get("default") or {}).get("response") or {}
        name = selected.get("intent_response_key") or name
    confidence = intent.get("confidence")
    dispatcher.utter_message(json_message={"understanding": {
        "action": action, "intent": name, "confidence": None if confidence is None else round(float(confidence), 4),
        "language": reply_language_of(tracker),
    }})


def is_verified(tracker: Tracker) -> bool:
    """Whether the website/app vouched for the customer (signed identity)."""
    return bool((latest_metadata(tracker).get("customer") or {}).get("verified"))


class AssistantAction(Action):
    """Base class: answers in the customer's language and keeps the language slot current.

    Subclasses implement :meth:`respond`, which sees the customer slots already brought up to
    date from the verified profile. Any action other than the offer of a person itself
    withdraws a pending offer (slot ``human_offered``), so a later "yes" is not taken for it.
    """

    action_name: Text = ""

    def name(self) -> Text:
        return self.action_name

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        understanding_marker(dispatcher, tracker, self.action_name)
        profile_events = profile_slot_events(tracker)
        for event in profile_events:
            tracker.slots[event["name"]] = event["value"]
        reply_language = reply_language_of(tracker)
        events = profile_events + list(self.respond(dispatcher, tracker, reply_language) or [])
        if tracker.get_slot("language") != reply_language:
            events.append(SlotSet("language", reply_language))
        sets_offer = any(e.get("event") == "slot" and e.get("name") == "human_offered" for e in events)
        if tracker.get_slot("human_offered") and not sets_offer:
            events.append(SlotSet("human_offered", False))
        return events

    def respond(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, lang: str
    ) -> Optional[List[EventType]]:
        raise NotImplementedError

    @staticmethod
    def say(dispatcher: CollectingDispatcher, text: str, lang: str, disclosure: bool = False, **kwargs: Any) -> None:
        """Send ``text``; with ``disclosure`` the mandatory risk disclosure closes the message."""
        if disclosure:
            text = f"{text}\n{knowledge.risk_disclosure(lang)}"
        dispatcher.utter_message(text=text, **kwargs)
