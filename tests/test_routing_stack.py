"""Routing through the running stack: a customer who asks for a human is
assigned to an online agent by the desk itself, within seconds, with no
click; an agent at capacity gets nothing more and the customer waits with a
position; going offline hands unanswered conversations back to the queue."""

from __future__ import annotations

from urllib.parse import quote

from tests.support.agents import add_agent, login
from tests.support.stack import Stack, auth, http, new_sender, wait_for


def conversation_of(stack: Stack, token: str, customer: str) -> dict | None:
    status, body = http("GET", f"{stack.desk_url}/api/conversations", headers=auth(token))
    assert status == 200, body
    return next((c for c in body["conversations"] if c["customer_id"] == customer), None)


def me(stack: Stack, token: str) -> dict:
    return http("GET", f"{stack.desk_url}/api/me", headers=auth(token))[1]


def clear_queue(stack: Stack) -> str:
    """Close what earlier tests left waiting in the shared stack's queue (the
    suite runs one test at a time): an agent who goes online would otherwise
    be given those first. Returns a supervisor's token."""
    boss = login(stack.desk_url, *add_agent(stack.env, "supervisor", "queue-cleaner"))
    listed = http("GET", f"{stack.desk_url}/api/conversations?status=waiting", headers=auth(boss))[1]
    for conversation in listed["conversations"]:
        http("POST", f"{stack.desk_url}/api/conversations/{conversation['id']}/close", headers=auth(boss))
    return boss


def test_handoffs_reach_an_online_agent_by_themselves_up_to_capacity(stack: Stack):
    boss = clear_queue(stack)
    token = login(stack.desk_url, *add_agent(stack.env, "agent", "route-agent"))
    agent_id = me(stack, token)["id"]
    assert http("PUT", f"{stack.desk_url}/api/agents/{agent_id}", {"capacity": 1}, headers=auth(token))[0] == 403
    status, body = http("PUT", f"{stack.desk_url}/api/agents/{agent_id}", {"capacity": 1}, headers=auth(boss))
    assert status == 200 and body["agent"]["capacity"] == 1, body
    status, body = http("POST", f"{stack.desk_url}/api/me/status", {"status": "online"}, headers=auth(token))
    assert status == 200 and body == {"status": "online"}, body
    try:
        first, second = new_sender("routed"), new_sender("routed")
        stack.say(first, "转人工")
        assert wait_for(lambda: (conversation_of(stack, token, first) or {}).get("assignee_id") == agent_id, 10)
        [listed] = [
            a
            for a in http("GET", f"{stack.desk_url}/api/agents", headers=auth(token))[1]["agents"]
            if a["id"] == agent_id
        ]
        assert listed["status"] == "online" and listed["active"] == 1 and listed["capacity"] == 1, listed

        # Full: the next customer waits, first in line, in the group that serves 转人工.
        stack.say(second, "转人工")
        assert wait_for(lambda: (conversation_of(stack, token, second) or {}).get("position") == 1, 10)
        waiting = conversation_of(stack, token, second)
        assert waiting["assignee_id"] is None and waiting["group"] == "售前咨询", waiting
        # Pulling it by hand would go above capacity.
        status, body = http("POST", f"{stack.desk_url}/api/conversations/{waiting['id']}/take", headers=auth(token))
        assert status == 409 and body["code"] == "at_capacity", body

        # Offline: the unanswered first conversation goes back to the queue.
        http("POST", f"{stack.desk_url}/api/me/status", {"status": "offline"}, headers=auth(token))
        assert wait_for(lambda: conversation_of(stack, token, first)["assignee_id"] is None, 10)
    finally:
        http("POST", f"{stack.desk_url}/api/me/status", {"status": "offline"}, headers=auth(token))
        # Leave nothing waiting for the suite's other desk tests.
        for customer in (first, second):
            found = conversation_of(stack, boss, customer)
            if found:
                http("POST", f"{stack.desk_url}/api/conversations/{found['id']}/close", headers=auth(boss))


def test_groups_are_listed_and_supervisors_edit_them(stack: Stack):
    boss = login(stack.desk_url, *add_agent(stack.env, "supervisor", "groups-boss"))
    token = login(stack.desk_url, *add_agent(stack.env, "agent", "groups-agent"))
    status, body = http("GET", f"{stack.desk_url}/api/groups", headers=auth(token))
    assert status == 200 and {"售前咨询", "售后", "物业报修", "投诉专席", "缴费"} <= {g["name"] for g in body["groups"]}
    change = {"hours": {"sat": [["09:00", "12:00"]]}, "holidays": ["2027-01-01"], "channels": ["wechat"]}
    name = new_sender("组")
    assert http("PUT", f"{stack.desk_url}/api/groups/{quote(name)}", change, headers=auth(token))[0] == 403
    status, body = http("PUT", f"{stack.desk_url}/api/groups/{quote(name)}", change, headers=auth(boss))
    assert status == 200 and body["group"] == {"name": name, "intents": [], "categories": [], **change}, body
    status, body = http(
        "PUT",
        f"{stack.desk_url}/api/groups/{quote(name)}",
        {"hours": {"sat": [["25:00", "26:00"]]}},
        headers=auth(boss),
    )
    assert status == 400, body


def test_a_transfer_with_a_note_tells_the_customer_politely_and_the_note_never_reaches_them(stack: Stack):
    boss = clear_queue(stack)
    sender_token = login(stack.desk_url, *add_agent(stack.env, "agent", "transfer-from"))
    receiver_token = login(stack.desk_url, *add_agent(stack.env, "agent", "transfer-to"))
    receiver = me(stack, receiver_token)["id"]
    customer = new_sender("transferred")
    stack.say(customer, "转人工")
    conversation = conversation_of(stack, sender_token, customer)
    url = f"{stack.desk_url}/api/conversations/{conversation['id']}"
    assert http("POST", f"{url}/take", headers=auth(sender_token))[0] == 200
    try:
        # Not online: refused with the reason.
        status, body = http("POST", f"{url}/transfer", {"agent_id": receiver}, headers=auth(sender_token))
        assert status == 409 and body["code"] == "agent_offline", body
        http("POST", f"{stack.desk_url}/api/me/status", {"status": "online"}, headers=auth(receiver_token))
        # Someone who does not hold it may not move it.
        status, _ = http("POST", f"{url}/transfer", {"agent_id": receiver}, headers=auth(receiver_token))
        assert status == 403
        status, body = http(
            "POST",
            f"{url}/transfer",
            {"agent_id": receiver, "note": "要开专票，抬头已确认"},
            headers=auth(sender_token),
        )
        assert status == 200 and body["conversation"]["assignee_id"] == receiver, body
        status, body = http("POST", f"{url}/notes", {"text": "VIP，语气客气些"}, headers=auth(receiver_token))
        assert status == 201 and body["note"]["text"] == "VIP，语气客气些"
        status, body = http("GET", f"{url}/notes", headers=auth(boss))
        assert [n["text"] for n in body["notes"]] == ["VIP，语气客气些", "转接备注：要开专票，抬头已确认"], body
        said = [e.get("text") for e in stack.tracker(customer)["events"] if e["event"] == "bot"]
        assert any("正在为您转接" in (t or "") for t in said), said
        assert not any("专票" in (t or "") or "VIP" in (t or "") for t in said), said
        # To a group: back in its queue.
        status, body = http("POST", f"{url}/transfer", {"group": "投诉专席"}, headers=auth(receiver_token))
        assert status == 200 and body["conversation"]["status"] == "waiting", body
        assert body["conversation"]["group"] == "投诉专席"
    finally:
        http("POST", f"{stack.desk_url}/api/me/status", {"status": "offline"}, headers=auth(receiver_token))
        http("POST", f"{url}/close", headers=auth(boss))
