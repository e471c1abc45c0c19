"""What the bot did not understand goes to the desk's 待学习 list
(kefu.core.learning) for a supervisor to teach it. Recording never costs
the customer an answer: a database problem is logged and the turn goes on."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Tracker

from actions.outage import OUTAGE_ERRORS
from actions.store import in_db
from kefu.core import learning

logger = logging.getLogger(__name__)


def _guess(parse: dict[str, Any]) -> tuple[str | None, float | None]:
    """The NLU's best real intent and its confidence (past nlu_fallback)."""
    ranking = [r for r in parse.get("intent_ranking") or [] if r.get("name") != "nlu_fallback"]
    if ranking:
        return ranking[0].get("name"), ranking[0].get("confidence")
    intent = parse.get("intent") or {}
    return intent.get("name"), intent.get("confidence")


def previous_user_message(tracker: Tracker) -> dict[str, Any] | None:
    """The customer's message before the latest one, as Rasa recorded it."""
    seen_latest = False
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        if seen_latest:
            return event
        seen_latest = True
    return None


async def remember(tracker: Tracker, reason: str, event: dict[str, Any] | None = None) -> None:
    """Record the latest customer message (or `event`, one of theirs) as not understood."""
    message = event if event is not None else (tracker.latest_message or {})
    text = (message.get("text") or "").strip()
    if not text:
        return
    parse = message.get("parse_data") or message
    intent, confidence = _guess(parse)
    seen = learning.Seen(
        text=text,
        reason=reason,
        channel=tracker.get_latest_input_channel() or "unknown",
        predicted_intent=intent,
        confidence=confidence,
    )
    try:
        await in_db(learning.record, seen)
    except OUTAGE_ERRORS as exc:
        logger.error("could not record a message to learn from: %s", exc.__class__.__name__)
