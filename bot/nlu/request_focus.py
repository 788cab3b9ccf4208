"""The sentences of a long message that carry its request, for the intent classifier to read.

A customer who writes 1,500 characters usually tells the story first (how they bought the
product, what happened in the family) and asks at the end ("请问怎么赎回？"). Read whole, the
story outweighs the question: word counts and the sentence embedding both drift to whatever the
story talks about (buying, a stolen card…). So for a long message this component keeps, for the
featurizers after it, only the sentences that ask for something: those with a question mark or a
request word, the last few of them (a closing "thank you" is skipped). Entities are still found
in the whole text, and the actions still see the whole text.

Ordinary messages (up to ``LONG_SENTENCES`` sentences or ``LONG_CHARS`` characters, every
training example) pass untouched, so they cost and mean exactly what they did.
"""

from __future__ import annotations

import re
from typing import List, Optional, Tuple

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.stateless import StatelessComponent

# The text the sentence encoder reads instead of the whole message (set only for long ones).
REQUEST_TEXT = "request_text"
LONG_SENTENCES = 4
LONG_CHARS = 300
# At most this many request sentences are kept, the last ones.
KEPT = 2

# A sentence ends at Chinese or Latin end punctuation (a Latin full stop only before a space,
# so "3.5%" and "e.g." stay whole) or a line break.
_SENTENCE_END = re.compile(r"[。！？!?；;…]+[”」』\"')）]*|\.(?=\s)|\n+")
_ASKS = re.compile(
    r"[?？]|请问|想问|问一下|请|麻烦|帮我|怎么|怎样|如何|能否|能不能|可否|可不可以|是否|吗|多久|几天|什么时候|为什么|我想|我要|希望"
    r"|\b(?:how|what|when|why|which|where|can|could|would|will|please|help|want|need|wish|like to)\b",
    re.IGNORECASE,
)


def sentence_spans(text: str) -> List[Tuple[int, int]]:
    """Where each sentence of ``text`` starts and ends, without surrounding whitespace."""
    spans, start = [], 0
    for end_mark in _SENTENCE_END.finditer(text):
        spans.append((start, end_mark.end()))
        start = end_mark.end()
    spans.append((start, len(text)))
    stripped = []
    for begin, end in spans:
        piece = text[begin:end]
        if piece.strip():
            begin += len(piece) - len(piece.lstrip())
            stripped.append((begin, begin + len(piece.strip())))
    return stripped


def request_spans(text: str) -> Optional[List[Tuple[int, int]]]:
    """The spans of the sentences that carry the request of a long message; None for an
    ordinary message, or a long one in which no sentence asks anything (read whole)."""
    spans = sentence_spans(text)
    if len(spans) <= LONG_SENTENCES and len(text) <= LONG_CHARS:
        return None
    asking = [span for span in spans if _ASKS.search(text[span[0]:span[1]])]
    return asking[-KEPT:] or None


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class RequestFocus(StatelessComponent):
    """Narrows the tokens of a long message to its request sentences (the count featurizers
    read tokens) and sets ``request_text`` for the sentence encoder."""

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            spans = request_spans(text)
            if spans is None:
                continue
            tokens = message.get(TOKENS_NAMES[TEXT]) or []
            kept = [t for t in tokens if any(begin <= t.start < end for begin, end in spans)]
            if kept:
                message.set(TOKENS_NAMES[TEXT], kept)
            message.set(REQUEST_TEXT, " ".join(text[begin:end] for begin, end in spans))
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data
