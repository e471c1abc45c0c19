"""Repair requests: a form collects description, room and phone, then a ticket."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.outage import polite_on_outage
from actions.tickets import open_ticket, promise_text
from actions.turn import current_turn
from kefu.core.categories import default_categories
from kefu.core.emergencies import default_emergencies
from kefu.core.models import Priority
from kefu.core.tickets import ticket_number
from kefu.text.entities import find_entities, normalize_phone


def safety_tip(text: str) -> str:
    """The advice of the emergencies the text reports (kefu/core/data/emergencies.yml)."""
    book = default_emergencies()
    return "\n".join(book.advice(book.detect(text)))


def is_urgent(text: str) -> bool:
    """An urgent repair: urgent words of kefu/core/data/categories.yml, or an emergency."""
    return default_categories().is_urgent_repair(text) or bool(default_emergencies().detect(text))


def urgent_repair_in_progress(tracker: Tracker) -> bool:
    """Is the customer in the middle of a repair form about something urgent?"""
    if (tracker.active_loop or {}).get("name") != "repair_form":
        return False
    texts = [tracker.get_slot("repair_description") or ""]
    # The message that started the form, when the description was not asked yet.
    for event in reversed(tracker.events):
        if (
            event.get("event") == "user"
            and ((event.get("parse_data") or {}).get("intent") or {}).get("name") == "repair"
        ):
            texts.append(event.get("text") or "")
            break
    return is_urgent(" ".join(texts))


def mask_phone(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) == 11 else phone


class ValidateRepairForm(FormValidationAction):
    def name(self) -> str:
        return "validate_repair_form"

    def validate_repair_description(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        text = str(value or "").strip()
        if not text:
            return {"repair_description": None}
        return {"repair_description": text[:500]}

    def validate_room(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        text = str(value or "").strip()
        rooms = [e.value for e in find_entities(text) if e.entity == "room"]
        if rooms:
            return {"room": rooms[0]}
        # A phone number is not an address: ask for the room again.
        if not text or (normalize_phone(text) and len(text) <= 20):
            return {"room": None}
        return {"room": text[:128]}

    def validate_phone(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        phone = normalize_phone(str(value or ""))
        if phone is None:
            dispatcher.utter_message(response="utter_invalid_phone")
            return {"phone": None}
        return {"phone": phone}


class ActionSubmitRepair(Action):
    def name(self) -> str:
        return "action_submit_repair"

    @polite_on_outage
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain) -> list[dict[str, Any]]:
        turn = current_turn(tracker)
        description = tracker.get_slot("repair_description") or turn.text
        room = tracker.get_slot("room")
        phone = tracker.get_slot("phone")
        rules = default_categories().repair
        urgent = is_urgent(description + " " + turn.text)
        minutes = rules.urgent_callback_minutes if urgent else rules.normal_callback_minutes
        ticket = await open_ticket(
            turn,
            intent="repair",
            category=rules.category,
            summary=f"报修：{description}",
            reply_hours=minutes / 60,
            priority=Priority.urgent.value if urgent else Priority.normal.value,
            room=room,
            phone=phone,
        )
        lines = [
            f"已为您登记报修，工单号：{ticket_number(ticket.id)}。",
            f"地址：{room}；报修内容：{description[:60]}。",
        ]
        if urgent:
            lines.append(
                f"这是紧急报修，已为您优先派单，维修师傅将在{promise_text(minutes / 60)}"
                f"致电 {mask_phone(phone)} 并尽快上门。"
            )
            tip = safety_tip(description + " " + turn.text)
            if tip:
                lines.append(tip)
        else:
            lines.append(
                f"维修师傅将在{promise_text(minutes / 60)}致电 {mask_phone(phone)} 与您约定上门时间，请保持电话畅通。"
            )
        lines.append("维修完成后我们会进行回访，感谢您的耐心！")
        dispatcher.utter_message(text="\n".join(lines))
        # Room and phone stay for the next request; the description does not.
        return [SlotSet("repair_description", None)]
