"""A retried action call (same incoming message) never opens a second ticket."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.support.stack import Stack, auth, http, new_sender


def action_call(sender: str, action: str, text: str, intent: str, message_id: str) -> dict:
    latest = {"text": text, "intent": {"name": intent, "confidence": 0.99}, "entities": [], "message_id": message_id}
    return {
        "next_action": action,
        "sender_id": sender,
        "version": "3.6.21",
        "domain": {},
        "tracker": {
            "sender_id": sender,
            "slots": {},
            "latest_message": latest,
            "latest_event_time": 1.0,
            "followup_action": None,
            "paused": False,
            "events": [
                {
                    "event": "user",
                    "timestamp": 1.0,
                    "text": text,
                    "parse_data": latest,
                    "input_channel": "rest",
                    "message_id": message_id,
                }
            ],
            "latest_input_channel": "rest",
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
    }


def test_retried_complaint_action_opens_one_ticket(stack: Stack, agent_token: str):
    sender = new_sender()
    body = action_call(sender, "action_handle_complaint", "发错货了，我要投诉", "complaint", "msg-retry-1")
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: http("POST", f"{stack.actions_url}/webhook", body), range(4)))
    texts = set()
    for status, reply in results:
        assert status == 200, reply
        texts.add(reply["responses"][0]["text"])
    # All four calls quote the same ticket number.
    assert len(texts) == 1, texts
    status, listed = http("GET", f"{stack.desk_url}/api/tickets?customer_id={sender}", headers=auth(agent_token))
    assert len(listed["tickets"]) == 1
    assert listed["tickets"][0]["number"] in texts.pop()
