"""What an action needs to know about the message it answers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from rasa_sdk import Tracker


@dataclass(frozen=True)
class Turn:
    channel: str
    customer_id: str
    message_id: str
    text: str
    intent: str | None
    # First value of each entity in the message (already normalised by NLU).
    room: str | None = None
    phone: str | None = None
    order_id: str | None = None


def current_turn(tracker: Tracker) -> Turn:
    latest = tracker.latest_message or {}
    # Rasa gives every user message an id; a retried action sees the same one,
    # which is what makes ticket creation idempotent.
    message_id = latest.get("message_id") or _fallback_message_id(tracker)
    return Turn(
        channel=tracker.get_latest_input_channel() or "unknown",
        customer_id=tracker.sender_id,
        message_id=str(message_id),
        text=(latest.get("text") or "").strip(),
        intent=(latest.get("intent") or {}).get("name"),
        room=next(tracker.get_latest_entity_values("room"), None),
        phone=next(tracker.get_latest_entity_values("phone"), None),
        order_id=next(tracker.get_latest_entity_values("order_id"), None),
    )


def bot_text_before(tracker: Tracker) -> str | None:
    """The bot's last text before the customer's latest message (None when
    the bot said nothing in between): what that message may be answering."""
    seen_user = False
    for event in reversed(tracker.events):
        kind = event.get("event")
        if kind == "user":
            if seen_user:
                return None
            seen_user = True
        elif kind == "bot" and seen_user and event.get("text"):
            return str(event.get("text"))
    return None


def _fallback_message_id(tracker: Tracker) -> str:
    # Deterministic for the same tracker state, unlike a random id.
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return f"ts-{event.get('timestamp')}"
    return uuid.uuid4().hex
