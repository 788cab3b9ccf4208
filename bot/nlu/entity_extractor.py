"""Finds product and branch-city names in a message and resolves them to canonical values.

Products have a short, closed list of names in two languages (full names, short names, codes);
matching that list exactly gives the product code every time, where a statistical extractor
would need retraining for each new alias. The list is read from the knowledge files when the
model loads.
"""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.aliases import entity_aliases


def _is_word_char(char: str) -> bool:
    return char.isascii() and char.isalnum()


def find_entities(text: str) -> List[Dict[str, Any]]:
    """Non-overlapping alias matches in ``text``, longest alias first, in text order.

    Latin aliases must stand as whole words ("MM01" is not found inside "MM012"); Chinese ones
    need no boundary, since Chinese has no spaces.
    """
    lowered = text.lower()
    taken = [False] * len(text)
    found = []
    for alias, entity, value in entity_aliases():
        needle = alias.lower()
        start = lowered.find(needle)
        while start != -1:
            end = start + len(needle)
            bounded = not alias.isascii() or (
                (start == 0 or not _is_word_char(text[start - 1]))
                and (end == len(text) or not _is_word_char(text[end]))
            )
            if bounded and not any(taken[start:end]):
                taken[start:end] = [True] * (end - start)
                found.append(
                    {"entity": entity, "start": start, "end": end, "value": value, "text": text[start:end]}
                )
            start = lowered.find(needle, start + 1)
    return sorted(found, key=lambda e: e["start"])


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class CatalogEntityExtractor(GraphComponent, EntityExtractorMixin):
    """Extracts ``product`` (value: product code) and ``city`` (value: English city name)."""

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "CatalogEntityExtractor":
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            entities = self.add_extractor_name(find_entities(message.get(TEXT) or ""))
            message.set(ENTITIES, message.get(ENTITIES, []) + entities, add_to_output=True)
        return messages
