"""A question about a ticket the customer has is never a new ticket, and a
survey score with a comment is a survey answer, not a complaint.

"我刚才的工单KF000007处理得怎么样了" reads like a complaint to the
classifier and "查一下我的报修进度" like a repair; either would open a new
ticket. A ticket number, or wording that points at an existing request
(kefu.text.ticket_talk), makes the intent `ticket_status` whatever DIET said,
except a request for a human, which the customer always gets. A 1-5 score
with a comment ("2分，师傅来得太慢") becomes `survey_answer`: the action
records score and comment when a survey is open (else handles the comment).
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from kefu.text.ticket_talk import is_status_question, score_with_comment, ticket_numbers

STATUS_INTENT = "ticket_status"
SURVEY_INTENT = "survey_answer"
KEPT = ("request_human",)


def override(text: str) -> str | None:
    """The intent this message has whatever the classifier said, if any."""
    if ticket_numbers(text):
        return STATUS_INTENT
    if score_with_comment(text) is not None:
        return SURVEY_INTENT
    return STATUS_INTENT if is_status_question(text) else None


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class TicketStatusGuard(GraphComponent):
    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> TicketStatusGuard:
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            if (message.get(INTENT) or {}).get("name") in KEPT:
                continue
            wins = override(message.get(TEXT) or "")
            if wins is None or wins == (message.get(INTENT) or {}).get("name"):
                continue
            # The classifier's guesses stay visible but clearly behind, or the
            # FallbackClassifier would call a near tie (1.0 vs 0.99) ambiguous.
            ranking = [
                {**r, "confidence": (r.get("confidence") or 0.0) / 2}
                for r in message.get(INTENT_RANKING_KEY) or []
                if r.get("name") != wins
            ]
            message.set(INTENT, {"name": wins, "confidence": 1.0}, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [{"name": wins, "confidence": 1.0}] + ranking, add_to_output=True)
        return messages
