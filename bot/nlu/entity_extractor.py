"""Finds product and branch-city names in a message and resolves them to canonical values.

Products come from the product resolver (bot/product_resolver.py: names, codes, types, typos,
homophones, traditional characters), which the actions and the email channel use too, so a
name understood here is understood everywhere. Cities have a short, closed list of names in two
languages, matched exactly. Both lists are read from the knowledge files, so a new alias needs no
retraining. Only a product the message names for certain becomes an entity; a kind that fits
several products is left to the action, which asks which one.
"""

from __future__ import annotations

from typing import Any, Dict, List

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot import product_resolver
from bot.nlu.aliases import city_aliases
from bot.nlu.stateless import StatelessComponent
from bot.normalize import simplified


def _is_word_char(char: str) -> bool:
    return char.isascii() and char.isalnum()


def _city_entities(text: str, lowered: str, taken: List[bool]) -> List[Dict[str, Any]]:
    """Branch cities, longest alias first; Latin aliases only as whole words."""
    found = []
    for alias, value in city_aliases():
        needle = simplified(alias).lower()
        start = lowered.find(needle)
        while start != -1:
            end = start + len(needle)
            bounded = not needle.isascii() or (
                (start == 0 or not _is_word_char(lowered[start - 1]))
                and (end == len(lowered) or not _is_word_char(lowered[end]))
            )
            if bounded and not any(taken[start:end]):
                taken[start:end] = [True] * (end - start)
                found.append({"entity": "city", "start": start, "end": end, "value": value, "text": text[start:end]})
            start = lowered.find(needle, start + 1)
    return found


def find_entities(text: str) -> List[Dict[str, Any]]:
    """Products the message names for certain and branch cities, in text order."""
    taken = [False] * len(text)
    found = []
    for mention in product_resolver.resolve(text).mentions:
        taken[mention.start:mention.end] = [True] * (mention.end - mention.start)
        found.append({
            "entity": "product", "start": mention.start, "end": mention.end,
            "value": mention.code, "text": text[mention.start:mention.end],
        })
    found += _city_entities(text, simplified(text).lower(), taken)
    return sorted(found, key=lambda e: e["start"])


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class CatalogEntityExtractor(StatelessComponent, EntityExtractorMixin):
    """Extracts ``product`` (value: product code) and ``city`` (value: English city name)."""

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            entities = self.add_extractor_name(find_entities(message.get(TEXT) or ""))
            message.set(ENTITIES, message.get(ENTITIES, []) + entities, add_to_output=True)
        return messages
