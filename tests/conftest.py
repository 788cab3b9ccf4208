"""Shared fixtures: trackers built in code, as in Rasa's own reference bots."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import secrets

import psycopg2
import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.core.db import make_engine, session_factory
from channels.registry import migrate


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


@pytest.fixture
def disclosure():
    return DISCLOSURE


POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def postgres_admin(statement: str) -> None:
    connection = psycopg2.connect(POSTGRES_ADMIN)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(statement)
    connection.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def sessions(request, tmp_path):
    """A fresh, migrated database of each kind for every test."""
    if request.param == "sqlite":
        url, name = f"sqlite:///{tmp_path / 'contact.db'}", None
    else:
        name = f"evergreen_test_{secrets.token_hex(4)}"
        postgres_admin(f"CREATE DATABASE {name}")
        url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    engine = make_engine(url)
    migrate(engine)
    yield session_factory(engine)
    engine.dispose()
    if name:
        postgres_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
