"""Messages the classifier must not guess about: gibberish and acknowledgements.

Character n-gram models give confident intents to strings they have never
seen ("asdkjh qwe" -> thank, see rasa#4856). A message with no Chinese
character and no word known from the training data cannot be understood,
so it becomes nlu_fallback and the customer is asked to rephrase.

The opposite case: a message without words (emoji, a WeChat/Taobao sticker
placeholder such as "[微笑]" or "/:)", punctuation) or a single character
("哦", "嗯") says nothing to misunderstand. Unless the classifier read it as
a social intent (👋 greet, 👌 affirm, 不 deny …) it becomes `acknowledge`:
a friendly short answer, never a step towards a handoff.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import rasa.shared.utils.io
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

FALLBACK_INTENT = "nlu_fallback"
ACKNOWLEDGE_INTENT = "acknowledge"
INFORM_INTENT = "inform"
# Numbers that are chat slang, not an answer: 88/886 = 拜拜.
NUMBER_SLANG = frozenset({"88", "886"})
# Intents a content-free message may keep when the classifier chose them.
SOCIAL_INTENTS = frozenset({"greet", "goodbye", "thank", "affirm", "deny", ACKNOWLEDGE_INTENT})
# FallbackClassifier's threshold and ambiguity threshold (bot/config.yml): a
# social guess it would turn into nlu_fallback is no guess worth keeping.
CONFIDENT = 0.5
AMBIGUOUS = 0.05
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[a-z]+")
# Sticker placeholders as the platforms put them in the text: WeChat's
# "[微笑]" / "[Smile]" / "/::)" / "/:)", Taobao's "/:^_^", a bare "[表情]".
_STICKER = re.compile(r"\[[^\[\]\s]{1,8}\]|/:[^\s/]{1,8}")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def content_characters(text: str) -> list[str]:
    """Letters and digits left once stickers, emoji and punctuation are gone."""
    return [c for c in _STICKER.sub("", text) if unicodedata.category(c)[0] in "LN"]


# A number alone: a phone ("+86 186 1234 5678"), an order or room number, a
# survey score ("5", "4分").
_NUMBER_ANSWER = re.compile(r"^\s*\+?\d[\d\s-]*(分|星)?\s*[。.!！]?\s*$")


def number_answer(text: str) -> bool:
    return bool(_NUMBER_ANSWER.match(text)) and text.strip() not in NUMBER_SLANG


def says_nothing(text: str) -> bool:
    """Emoji, stickers, punctuation or one character: nothing to misunderstand."""
    return bool(text.strip()) and len(content_characters(text)) <= 1


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class UnknownTextGuard(GraphComponent):
    FILE = "known_words.json"

    def __init__(self, model_storage: ModelStorage, resource: Resource, known: set[str] | None = None) -> None:
        self._model_storage = model_storage
        self._resource = resource
        self.known = known or set()

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> UnknownTextGuard:
        return cls(model_storage, resource)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> UnknownTextGuard:
        with model_storage.read_from(resource) as directory:
            known = set(rasa.shared.utils.io.read_json_file(directory / cls.FILE))
        return cls(model_storage, resource, known)

    def train(self, training_data: TrainingData) -> Resource:
        for example in training_data.intent_examples:
            self.known.update(words(example.get(TEXT) or ""))
        with self._model_storage.write_to(self._resource) as directory:
            rasa.shared.utils.io.dump_obj_as_json_to_file(directory / self.FILE, sorted(self.known))
        return self._resource

    def is_unintelligible(self, text: str) -> bool:
        if _CJK.search(text):
            return False
        # Digits alone (a phone, an order number) are an answer, not noise.
        found = words(text)
        return bool(found) and not any(w in self.known for w in found)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            if number_answer(text):
                # A phone, an order or room number, a survey score: an answer.
                # The classifier sees every number alike and may call it goodbye.
                if (message.get(INTENT) or {}).get("name") != INFORM_INTENT:
                    self._override(message, INFORM_INTENT)
            elif says_nothing(text):
                if not self._confidently_social(message):
                    self._override(message, ACKNOWLEDGE_INTENT)
            elif self.is_unintelligible(text):
                self._override(message, FALLBACK_INTENT)
        return messages

    @staticmethod
    def _confidently_social(message: Message) -> bool:
        guess = message.get(INTENT) or {}
        confidence = guess.get("confidence") or 0.0
        ranking = message.get(INTENT_RANKING_KEY) or []
        runner_up = (ranking[1].get("confidence") or 0.0) if len(ranking) > 1 else 0.0
        return guess.get("name") in SOCIAL_INTENTS and confidence >= CONFIDENT and confidence - runner_up >= AMBIGUOUS

    @staticmethod
    def _override(message: Message, intent: str) -> None:
        ranking = message.get(INTENT_RANKING_KEY) or []
        message.set(INTENT, {"name": intent, "confidence": 1.0}, add_to_output=True)
        message.set(INTENT_RANKING_KEY, [{"name": intent, "confidence": 1.0}] + ranking, add_to_output=True)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
