"""The customer's answer to a 满意度调查, whichever way the NLU read "5",
"满意" or "2分，师傅来得太慢" (a score with a comment records both)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.complaint import register_complaint
from actions.knowledge import settle_kb_reply
from actions.outage import polite_on_outage
from actions.store import in_db
from actions.turn import Turn, current_turn
from kefu.core import surveys

THANKS_NO_SURVEY = "感谢您的反馈！我们会继续努力。请问还有其他可以帮您的吗？"


async def survey_reply(turn: Turn) -> str | None:
    """A thank-you when this message answers the customer's open survey, else None."""
    parsed = surveys.parse_answer(turn.text)
    if parsed is None:
        return None
    answered = await in_db(surveys.answer, turn.customer_id, turn.text, turn.message_id)
    return surveys.thanks(*answered, commented=bool(parsed[1])) if answered else None


class ActionSurveyAnswer(Action):
    """A score with a comment. Without an open survey a poor score's comment
    is still heard: it is a complaint."""

    def name(self) -> str:
        return "action_survey_answer"

    @polite_on_outage
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain) -> list[dict[str, Any]]:
        settled = await settle_kb_reply(dispatcher, tracker)  # "2" picks among "您是不是想问" first
        if settled is not None:
            return settled
        turn = current_turn(tracker)
        answer = await survey_reply(turn)
        if answer is not None:
            dispatcher.utter_message(text=answer)
            return []
        parsed = surveys.parse_answer(turn.text)
        if parsed is not None and parsed[0] <= surveys.POOR:
            return await register_complaint(dispatcher, turn)
        dispatcher.utter_message(text=THANKS_NO_SURVEY)
        return []
