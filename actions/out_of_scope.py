"""Off-topic requests (weather, jokes, sums …) get the polite out-of-scope
answer, unless the message is a reply to what the knowledge base just said
(the NLU reads a bare "第一个" as off-topic, but after "您是不是想问" it is
the customer's choice) or a question the knowledge base clearly answers
("为什么比别家贵？" sounds like small talk to the NLU)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.knowledge import CONFIDENT_WITHOUT_INTENT, answer_with_feedback, kb_answer, settle_kb_reply
from actions.outage import polite_on_outage
from actions.turn import current_turn


class ActionOutOfScope(Action):
    def name(self) -> str:
        return "action_out_of_scope"

    @polite_on_outage
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain) -> list[dict[str, Any]]:
        settled = await settle_kb_reply(dispatcher, tracker)
        if settled is not None:
            return settled
        turn = current_turn(tracker)
        found = await kb_answer(turn, CONFIDENT_WITHOUT_INTENT)
        if found is not None:
            return answer_with_feedback(dispatcher, found, turn.channel)
        dispatcher.utter_message(response="utter_out_of_scope")
        return []
