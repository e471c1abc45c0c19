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
from kefu.core.models import Priority
from kefu.core.tickets import ticket_number
from kefu.text.entities import find_entities, normalize_phone

# First-aid advice for urgent repairs, checked in this order.
SAFETY_TIPS = (
    (
        ("燃气", "煤气", "天然气", "液化气", "漏气"),
        "为了您的安全，请立即关闭燃气总阀、开窗通风，不要开关任何电器或使用明火，并尽快离开室内。",
    ),
    (("着火", "起火", "失火", "火灾", "冒烟", "冒火"), "如有明火请立即拨打119并撤离到安全地带，不要乘坐电梯。"),
    (("漏电", "触电"), "请不要触碰漏电部位，如能安全操作请先断开家中总闸。"),
    (
        ("困人", "被困", "困在", "关在电梯"),
        "请保持冷静，不要强行扒门，可按电梯内警铃或拨打电梯内救援电话，救援人员正在赶来。",
    ),
    (
        ("爆管", "水管爆", "管子爆", "爆了", "淹了", "水漫"),
        "请先关闭入户总水阀，并把贵重物品和电器移开，注意用电安全。",
    ),
)


def safety_tip(text: str) -> str:
    for words, tip in SAFETY_TIPS:
        if any(word in text for word in words):
            return tip
    return ""


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
        urgent = default_categories().is_urgent_repair(description + turn.text)
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
            tip = safety_tip(description + turn.text)
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
