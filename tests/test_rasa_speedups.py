"""bot/rasa_speedups.py: Rasa answers the same with the per-message costs removed (the figures
are in docs/performance.md), and the tracker row is written in one statement on both databases."""

from __future__ import annotations

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import Event
from rasa.shared.utils.common import all_subclasses

from bot import rasa_speedups
from bot.tracker_store import AssistantTracker, TrackerTable

VALID = {"events": [{"event": "slot", "name": "language", "value": "en"}],
         "responses": [{"text": "Hello", "buttons": [], "custom": {}}]}
INVALID = {"events": [{"event": 5}], "responses": []}


@pytest.fixture
def installed(monkeypatch):
    """The speedups installed for the test only (as the tracker store installs them in Rasa)."""
    monkeypatch.setattr(RemoteAction, "_validate_action_result", RemoteAction._validate_action_result)
    monkeypatch.setattr(Event, "resolve_by_type", Event.resolve_by_type)
    rasa_speedups._action_result_validator.cache_clear()
    rasa_speedups.install()


def error_of(action: RemoteAction, result) -> str:
    with pytest.raises(jsonschema.ValidationError) as raised:
        action._validate_action_result(result)
    return raised.value.message


def test_action_results_are_validated_as_rasa_does(monkeypatch):
    action = RemoteAction("action_answer_faq", None)
    stock_error = error_of(action, INVALID)
    monkeypatch.setattr(RemoteAction, "_validate_action_result", rasa_speedups._validate_action_result)
    assert action._validate_action_result(VALID) is True
    assert error_of(action, INVALID) == stock_error
    assert "Failed to validate Action server response" in stock_error


def test_the_schema_is_checked_once_not_per_message(installed, monkeypatch):
    checked = []
    validator = jsonschema.validators.validator_for(RemoteAction.action_response_format_spec())
    original = validator.check_schema.__func__
    monkeypatch.setattr(validator, "check_schema", classmethod(lambda cls, schema: checked.append(1) or original(cls, schema)))
    action = RemoteAction("action_answer_faq", None)
    for _ in range(3):
        action._validate_action_result(VALID)
    assert len(checked) <= 1


def test_events_resolve_to_the_same_classes(installed):
    names = {cls.type_name for cls in all_subclasses(Event)}
    for name in names:
        assert Event.resolve_by_type(name) is rasa_speedups._resolve_by_type(name)
    assert Event.resolve_by_type("no such event", Event) is Event
    assert Event.resolve_by_type("topic") is None
    with pytest.raises(ValueError):
        Event.resolve_by_type("no such event")


def test_a_tracker_row_is_inserted_then_replaced(sessions):
    table = TrackerTable(sessions)
    table.put("customer-1", '{"events": []}')
    table.put("customer-2", '{"events": [1]}')
    table.put("customer-1", '{"events": [2]}')
    assert table.get("customer-1") == '{"events": [2]}'
    assert table.get("customer-2") == '{"events": [1]}'
    with sessions() as session:
        assert session.query(AssistantTracker).count() == 2
