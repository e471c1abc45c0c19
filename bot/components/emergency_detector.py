"""Emergencies win over every other intent (安全第一).

"电梯困人了！！快来人" must get the safety advice at once, whatever DIET
thinks (a repair, a complaint, a low-confidence guess) and in the middle of a
form. The triggers are the property manager's data file
(kefu/core/emergencies.py), read when the model is loaded, so a new trigger
needs no retraining; words alone decide, so "上次电梯坏了想投诉" or
"燃气费怎么交" never become an emergency the way a classifier might guess.
Last in the pipeline: nothing after it can lower the 1.0.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from kefu.core.emergencies import EmergencyBook, default_emergencies

EMERGENCY_INTENT = "emergency"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class EmergencyDetector(GraphComponent):
    def __init__(self, book: EmergencyBook) -> None:
        self.book = book

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> EmergencyDetector:
        # A broken file stops Rasa at start with the file's name and the
        # problem, rather than missing emergencies silently.
        return cls(default_emergencies())

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            if not self.book.detect(message.get(TEXT) or ""):
                continue
            ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get("name") != EMERGENCY_INTENT]
            top = {"name": EMERGENCY_INTENT, "confidence": 1.0}
            message.set(INTENT, top, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [top, *ranking], add_to_output=True)
        return messages
