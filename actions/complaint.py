"""Complaints: apologise first, classify, open a ticket, promise the reply time.

A complaint while the customer has a ticket open from today may be about
that ticket: the bot asks first (actions/followup.py).
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import followup
from actions.knowledge import settle_kb_reply
from actions.outage import polite_on_outage
from actions.tickets import open_ticket, promise_text
from actions.turn import Turn, current_turn
from kefu.core.categories import default_categories
from kefu.core.tickets import ticket_number


async def register_complaint(dispatcher: CollectingDispatcher, turn: Turn) -> list[dict[str, Any]]:
    book = default_categories()
    category = book.classify_complaint(turn.text)
    hours = book.reply_hours(category)
    ticket = await open_ticket(
        turn,
        intent="complaint",
        category=category,
        summary=f"投诉（{category}）：{turn.text[:200]}",
        reply_hours=hours,
    )
    # Seed: apologise and listen before anything else, never argue,
    # name who is responsible and when the customer hears back.
    dispatcher.utter_message(
        text=(
            "非常抱歉给您带来了不好的体验，您反映的问题我们非常重视。\n"
            f"已为您登记投诉（类别：{category}），工单号：{ticket_number(ticket.id)}。"
            f"受理人员会负责跟进到底，并在{promise_text(hours)}给您答复。"
            "如需补充情况或图片，直接在这里留言即可；需要人工客服请回复“转人工”。"
        )
    )
    return []


class ActionHandleComplaint(Action):
    def name(self) -> str:
        return "action_handle_complaint"

    @polite_on_outage
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain) -> list[dict[str, Any]]:
        settled = await settle_kb_reply(dispatcher, tracker)  # "没解决", "2" after the knowledge base spoke
        if settled is not None:
            return settled
        turn = current_turn(tracker)
        today = await followup.open_today(turn)
        if today is not None and today.source_message_id != turn.message_id:
            return followup.ask(dispatcher, turn, today)
        return await register_complaint(dispatcher, turn)
