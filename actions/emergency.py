"""Emergencies (安全第一, 紧急报修优先): the first reply is the safety advice
and the numbers, then an urgent ticket and a human at the top of the queue.

The NLU's `emergency` intent (bot/components/emergency_detector.py) brings
every such message here, on any channel and in the middle of a repair form
(which ends: the agent takes over). The bot asks nothing first: the address
is taken from the same message when it is there, otherwise the agent asks.
All wording is in kefu/core/data/emergencies.yml.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import hand_off
from actions.outage import OUTAGE_ERRORS
from actions.tickets import open_ticket, promise_text
from actions.turn import current_turn
from kefu.core.categories import default_categories
from kefu.core.emergencies import default_emergencies
from kefu.core.models import Priority
from kefu.core.tickets import ticket_number

logger = logging.getLogger(__name__)


class ActionEmergency(Action):
    def name(self) -> str:
        return "action_emergency"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain) -> list[dict[str, Any]]:
        turn = current_turn(tracker)
        book = default_emergencies()
        kinds = book.detect(turn.text)
        rules = default_categories().repair
        promise = promise_text(rules.urgent_callback_minutes / 60)
        # A repair form in progress ends here; its room and phone stay known.
        events: list[dict[str, Any]] = [
            ActiveLoop(None),
            SlotSet("requested_slot", None),
            SlotSet("repair_description", None),
        ]
        if turn.room:
            events.append(SlotSet("room", turn.room))
        if turn.phone:
            events.append(SlotSet("phone", turn.phone))
        try:
            ticket = await open_ticket(
                turn,
                intent="emergency",
                category=rules.category,
                summary=book.summary(kinds, turn.text)[:500],
                reply_hours=rules.urgent_callback_minutes / 60,
                priority=Priority.urgent.value,
                room=turn.room or tracker.get_slot("room"),
                phone=turn.phone or tracker.get_slot("phone"),
            )
        except OUTAGE_ERRORS as exc:
            # The advice and the numbers never depend on the database.
            logger.error(
                "desk database unreachable for the emergency of %s: %s", turn.customer_id, exc.__class__.__name__
            )
            dispatcher.utter_message(text=book.first_reply(kinds, ticket=None, promise=promise))
            return events
        dispatcher.utter_message(
            text=book.first_reply(kinds, ticket=ticket_number(ticket.id), promise=promise, room=ticket.room)
        )
        try:
            return events + await hand_off(
                dispatcher, turn, reason="emergency", priority=Priority.urgent.value, text=None
            )
        except OUTAGE_ERRORS as exc:
            # The urgent ticket exists (top of the ticket list); the queue entry could not be written.
            logger.error(
                "desk database unreachable handing off the emergency of %s: %s",
                turn.customer_id,
                exc.__class__.__name__,
            )
            return events
