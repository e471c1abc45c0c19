"""The answer to a greeting: the full welcome once per session, then short.

The web widget asks for the welcome when a new customer opens it; a
customer who then says "你好" should not get the same welcome a second time,
as a person at a counter would not introduce themselves twice."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

WELCOME = "utter_greet"
AGAIN = "您好！请问有什么可以帮您？咨询、报修、缴费、投诉都可以直接告诉我。"


def welcomed_this_session(tracker: Tracker, domain: dict) -> bool:
    """Did the bot already say its welcome since the session started?"""
    texts = {r.get("text") for r in (domain.get("responses") or {}).get(WELCOME, [])}
    for event in reversed(tracker.events):
        if event.get("event") == "session_started":
            return False
        if event.get("event") == "bot" and (
            (event.get("metadata") or {}).get("utter_action") == WELCOME or event.get("text") in texts
        ):
            return True
    return False


class ActionGreet(Action):
    def name(self) -> str:
        return "action_greet"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain) -> list[dict[str, Any]]:
        if welcomed_this_session(tracker, domain):
            dispatcher.utter_message(text=AGAIN)
        else:
            dispatcher.utter_message(response=WELCOME)
        return []
