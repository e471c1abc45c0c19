"""A customer who writes again about an open ticket: add it to that ticket.

When it is not clear whether a message is about the open ticket (a new
complaint while a ticket from today is open) the bot asks once
("是关于工单KF000007的补充吗？") and keeps the question in the
`pending_followup` slot; the customer's very next message, 是 or 不是,
settles it (action_acknowledge calls `settle`). Anything else lets the
question go: the slot is only honoured right after it was asked. A bare
detail (room, phone: intent inform) goes on the open ticket (`add_detail`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.store import in_db
from actions.turn import Turn
from kefu.core import tickets
from kefu.core.models import Ticket

SLOT = "pending_followup"


def question(ticket: Ticket) -> str:
    number = tickets.ticket_number(ticket.id)
    return (
        f"您今天登记的工单 {number} 还在处理中。请问是关于工单{number}的补充吗？\n"
        f"回复“是”，我把这条留言补充到工单 {number}；回复“不是”，为您另行登记。"
    )


async def open_today(turn: Turn) -> Ticket | None:
    return await in_db(tickets.recent_open_ticket, turn.customer_id)


def ask(dispatcher: CollectingDispatcher, turn: Turn, ticket: Ticket) -> list[dict[str, Any]]:
    dispatcher.utter_message(text=question(ticket))
    return [SlotSet(SLOT, {"ticket": ticket.id, "text": turn.text, "message_id": turn.message_id})]


def _previous_user_message_id(tracker: Tracker) -> str | None:
    seen_latest = False
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        if seen_latest:
            return str(event.get("message_id") or "")
        seen_latest = True
    return None


async def settle(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    turn: Turn,
    new_matter: Callable[[CollectingDispatcher, Turn], Awaitable[list[dict[str, Any]]]],
) -> tuple[bool, list[dict[str, Any]]]:
    """(answered, events): whether this message answered the pending question."""
    pending = tracker.get_slot(SLOT)
    if not isinstance(pending, dict):
        return False, []
    if _previous_user_message_id(tracker) != pending.get("message_id") or turn.intent not in ("affirm", "deny"):
        return False, [SlotSet(SLOT, None)]
    original = dataclasses.replace(turn, text=str(pending.get("text") or ""), message_id=str(pending["message_id"]))
    events: list[dict[str, Any]] = [SlotSet(SLOT, None)]
    if turn.intent == "deny":
        return True, events + await new_matter(dispatcher, original)
    ticket = await in_db(tickets.add_customer_message, int(pending["ticket"]), original.text, original.message_id)
    if ticket is None:  # deleted meanwhile: it is a new matter after all
        return True, events + await new_matter(dispatcher, original)
    dispatcher.utter_message(
        text=(
            f"好的，已将您的留言补充到工单 {tickets.ticket_number(ticket.id)}，负责人员会尽快跟进处理。"
            "还有其他情况也可以直接在这里留言。"
        )
    )
    return True, events


async def add_detail(turn: Turn) -> str | None:
    """A bare detail ("我家是3栋2单元501", a phone) while a ticket from the last
    day is open goes on that ticket; None when there is no such ticket."""
    if not turn.text:
        return None

    def add(session) -> Ticket | None:
        ticket = tickets.recent_open_ticket(session, turn.customer_id)
        if ticket is None or ticket.source_message_id == turn.message_id:
            return None
        return tickets.add_customer_message(session, ticket.id, turn.text, turn.message_id)

    ticket = await in_db(add)
    if ticket is None:
        return None
    return f"好的，已将您补充的信息记录到工单 {tickets.ticket_number(ticket.id)}，负责人员会看到。请问还有其他可以帮您的吗？"
