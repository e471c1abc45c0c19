"""The welcome once per session, then a short answer to a greeting
(actions/greeting.py), on the events Rasa sends the action server."""

from __future__ import annotations

import asyncio

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.greeting import AGAIN, ActionGreet

WELCOME_TEXT = "您好，欢迎光临！"
DOMAIN = {"responses": {"utter_greet": [{"text": WELCOME_TEXT}]}}


def answer(events: list[dict]) -> list[dict]:
    tracker = Tracker("web-0123456789abcdef", {}, {"text": "你好"}, events, False, None, None, "action_listen")
    dispatcher = CollectingDispatcher()
    asyncio.run(ActionGreet().run(dispatcher, tracker, DOMAIN))
    return dispatcher.messages


def test_first_greeting_gets_the_welcome():
    assert answer([{"event": "session_started"}])[0]["response"] == "utter_greet"


def test_a_greeting_after_the_welcome_gets_a_short_answer():
    welcomed = [{"event": "session_started"}, {"event": "bot", "text": WELCOME_TEXT, "metadata": {}}]
    assert answer(welcomed)[0]["text"] == AGAIN
    by_name = [{"event": "session_started"}, {"event": "bot", "text": "x", "metadata": {"utter_action": "utter_greet"}}]
    assert answer(by_name)[0]["text"] == AGAIN


def test_a_new_session_welcomes_again():
    events = [{"event": "bot", "text": WELCOME_TEXT}, {"event": "session_started"}]
    assert answer(events)[0]["response"] == "utter_greet"
