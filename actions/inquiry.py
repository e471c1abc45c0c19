"""Inquiries: answer from the knowledge base (知识库), otherwise open a
ticket for a person."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.knowledge import answer_with_feedback, kb_answer, settle_feedback
from actions.learning import remember
from actions.orders import is_order_question, order_answer
from actions.outage import polite_on_outage
from actions.tickets import open_ticket, promise_text
from actions.turn import current_turn
from kefu.core.categories import default_categories
from kefu.core.tickets import ticket_number

INQUIRY_CATEGORY = "咨询"


class ActionAnswerInquiry(Action):
    def name(self) -> str:
        return "action_answer_inquiry"

    @polite_on_outage
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain) -> list[dict[str, Any]]:
        settled = await settle_feedback(dispatcher, tracker)  # "不明白" after a knowledge-base answer
        if settled is not None:
            return settled
        turn = current_turn(tracker)
        own = await order_answer(turn) if is_order_question(turn) else None
        if own is not None:
            dispatcher.utter_message(text=own)
            return []
        found = await kb_answer(turn)
        if found is not None:
            return answer_with_feedback(dispatcher, found, turn.channel)
        await remember(tracker, "no_kb_answer")
        hours = default_categories().reply_hours(INQUIRY_CATEGORY)
        ticket = await open_ticket(
            turn,
            intent="inquiry",
            category=INQUIRY_CATEGORY,
            summary=f"咨询：{turn.text[:200]}",
            reply_hours=hours,
        )
        dispatcher.utter_message(
            text=(
                "感谢您的咨询！这个问题需要专人为您确认，已为您记录，"
                f"工单号：{ticket_number(ticket.id)}，我们会在{promise_text(hours)}回复您。"
                "如需立即人工服务，请回复“转人工”。"
            )
        )
        return []
