"""JiebaTokenizer without blank tokens.

jieba.tokenize keeps spaces as tokens ("iPhone 14" -> "iPhone", " ", "14"),
which later featurizers treat as words and which shift entity alignment
(rasa#7910; the upstream fix was never merged). Dropping them is enough:
token offsets stay those of the original text.
"""

from __future__ import annotations

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.training_data.message import Message


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True)
class CleanJiebaTokenizer(JiebaTokenizer):
    """Jieba tokenizer that never emits whitespace-only tokens."""

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        tokens = super().tokenize(message, attribute)
        return [token for token in tokens if token.text.strip()]
