"""Jieba tokenization for Chinese, English and mixed messages.

Rasa's ``JiebaTokenizer`` keeps spaces and punctuation as tokens and needs a user-dictionary
directory. This one drops them and teaches Jieba the product and city names straight from the
knowledge files, so "我想redeem货币宝" becomes 我 / 想 / redeem / 货币宝. Traditional characters
and full-width letters are read in their simplified, half-width form (bot/normalize.py).
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.aliases import chinese_names
from bot.normalize import simplified

_WORD = re.compile(r"\w", re.UNICODE)


def _teach_jieba_aliases() -> None:
    import jieba

    for name in chinese_names():
        jieba.add_word(name, freq=100000)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class BilingualJiebaTokenizer(JiebaTokenizer):
    """Jieba for Chinese runs, words for Latin runs; lower-cased, no whitespace tokens."""

    @staticmethod
    def supported_languages() -> Optional[List[Text]]:
        return None

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "BilingualJiebaTokenizer":
        _teach_jieba_aliases()
        return cls(config, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "BilingualJiebaTokenizer":
        return cls.create(config, model_storage, resource, execution_context)

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        """Tokens of the simplified text (「長青貨幣寶」 → 长青货币宝); offsets stay those of the
        text as written, since simplifying keeps every character in its place."""
        import jieba

        text = simplified(message.get(attribute) or "")
        tokens = self._apply_token_pattern([Token(word, start) for word, start, _ in jieba.tokenize(text)])
        kept = [Token(t.text.lower(), t.start) for t in tokens if _WORD.search(t.text)]
        return kept or tokens[:1]
