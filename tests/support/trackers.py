"""Trackers built in code, as in Rasa's own reference bots, and actions run on them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Dict, List, Optional

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import func, select

from bot.service_hours import SHANGHAI

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=SHANGHAI)  # a Monday, a working day


def user_event(text: str, intent: str) -> Dict[str, Any]:
    return {"event": "user", "text": text, "parse_data": {"text": text, "intent": {"name": intent, "confidence": 0.9}}}


def make_tracker(
    text: str,
    intent: str,
    entities: Optional[List[Dict[str, Any]]] = None,
    slots: Optional[Dict[str, Any]] = None,
    faq: Optional[str] = None,
    earlier: Optional[List[Dict[str, Any]]] = None,
    metadata: Optional[Dict[str, Any]] = None,
) -> Tracker:
    """A tracker whose latest customer message is ``text``, classified as ``intent``.

    ``faq`` is the response-selector key ("faq/fees"); ``earlier`` are events before it;
    ``metadata`` is what the contact service sends with the message (profile, message id).
    """
    latest = {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": entities or []}
    if faq:
        latest["response_selector"] = {"faq": {"response": {"intent_response_key": faq}}}
    events = list(earlier or []) + [{"event": "user", "text": text, "parse_data": latest, "metadata": metadata or {}}]
    return Tracker("customer-1", slots or {}, latest, events, False, None, {}, "action_listen")


def product_entity(code: str) -> Dict[str, Any]:
    return {"entity": "product", "value": code}


def city_entity(city: str) -> Dict[str, Any]:
    return {"entity": "city", "value": city}


async def run_action(action, tracker: Tracker):
    """Run ``action``; return (message dicts, events). The ``understanding`` marker every action
    sends ahead of its messages (actions/base.py) is left out; tests of it look at it directly."""
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, {})
    return [m for m in dispatcher.messages if "understanding" not in (m.get("custom") or {})], events


def texts(messages: List[Dict[str, Any]]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


DISCLOSURE = {
    "zh": "理财非存款，产品有风险，投资须谨慎。",
    "en": "Wealth management products are not deposits. Investing involves risk; past performance does not guarantee future results.",
}


def stored(message_id: int, customer=None, received_at: str = "2026-11-30T10:00:00+08:00"):
    return {"message": {"id": message_id, "received_at": received_at}, "channel": "web",
            "customer": customer or {"verified": False, "tier": "standard"}}


def count(sessions, model) -> int:
    with sessions() as session:
        return session.execute(select(func.count()).select_from(model)).scalar_one()


def validate(method, value, tracker):
    dispatcher = CollectingDispatcher()
    return method(value, dispatcher, tracker, {}), texts(dispatcher.messages)
