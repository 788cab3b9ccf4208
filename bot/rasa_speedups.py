"""Rasa's own per-message costs that this assistant removes, without changing what Rasa does.

Installed by the Rasa process: :class:`bot.tracker_store.CompactingTrackerStore`, the piece of
ours Rasa's server loads at start (endpoints file), calls :func:`install`. Stock Rasa, in the
benchmark, runs without it.

- **The action server's answer is validated against a constant schema, and the schema itself
  is checked against JSON Schema's meta-schema on every call** (``RemoteAction._validate_action_result``
  calls ``jsonschema.validate``, which runs ``check_schema`` first). Checking the meta-schema
  took a third of the Rasa process's CPU per message on the benchmark (docs/performance.md).
  Here the schema is checked once and its validator kept; every answer is still validated, and
  an invalid one raises the same error with the same message.
- **Every event read from the tracker store finds its class by walking all of ``Event``'s
  subclasses** (``Event.resolve_by_type``, some 40 classes, each checked for being abstract),
  for each of the up to 100 events of a tracker, for every message: 8% of the process's CPU.
  Here a name found once is remembered; an unknown name still goes the original way.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict, Optional, Text, Type

from jsonschema import exceptions, validators
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.events import Event
from rasa.shared.utils.common import all_subclasses

_resolve_by_type = Event.resolve_by_type
_event_classes: Dict[Text, Type[Event]] = {}


@lru_cache(maxsize=1)
def _action_result_validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    cls = validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _validate_action_result(self: RemoteAction, result: Dict[Text, Any]) -> bool:
    """What ``RemoteAction._validate_action_result`` does (rasa 3.6), the schema checked once."""
    error = exceptions.best_match(_action_result_validator().iter_errors(result))
    if error is not None:
        error.message += (
            f". Failed to validate Action server response from API, "
            f"make sure your response from the Action endpoint is valid. "
            f"For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions"
        )
        raise error
    return True


def _event_class(type_name: Text, default: Optional[Type[Event]] = None) -> Optional[Type[Event]]:
    """What ``Event.resolve_by_type`` answers (the first subclass with that name), remembered."""
    if type_name not in _event_classes:
        for cls in all_subclasses(Event):  # as Rasa's, in the same order: the first name wins
            _event_classes.setdefault(cls.type_name, cls)
    found = _event_classes.get(type_name)
    return found if found is not None else _resolve_by_type(type_name, default)


def install() -> None:
    RemoteAction._validate_action_result = _validate_action_result
    Event.resolve_by_type = staticmethod(_event_class)
