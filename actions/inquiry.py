"""Inquiries: answer from the knowledge base (知识库), otherwise open a
ticket for a person."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.knowledge import answer_with_feedback, kb_consult, offer_suggestions, settle_kb_reply
from actions.learning import remember
from actions.orders import is_order_question, order_answer
from actions.outage import polite_on_outage
from actions.tickets import inquiry_ticket
from actions.turn import current_turn


class ActionAnswerInquiry(Action):
    def name(self) -> str:
        return "action_answer_inquiry"

    @polite_on_outage
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain) -> list[dict[str, Any]]:
        settled = await settle_kb_reply(dispatcher, tracker)  # "不明白", "2" after the knowledge base spoke
        if settled is not None:
            return settled
        turn = current_turn(tracker)
        own = await order_answer(turn) if is_order_question(turn) else None
        if own is not None:
            dispatcher.utter_message(text=own)
            return []
        found, suggested = await kb_consult(turn)
        if found is not None:
            return answer_with_feedback(dispatcher, found, turn.channel)
        await remember(tracker, "no_kb_answer")
        if suggested:
            return offer_suggestions(dispatcher, suggested, turn.channel)
        dispatcher.utter_message(text=await inquiry_ticket(turn))
        return []
