"""What the web widget reads after a reload (GET /api/widget/<id>/history),
through the running stack: the customer's own turns, who serves them and
their ticket numbers; nothing for any other id. And the agent's typing,
from the desk's websocket to the customer's socket.io session."""

from __future__ import annotations

import asyncio
import urllib.request

import aiohttp

from tests.support.agents import add_agent, login
from tests.support.scaled_stack import http
from tests.support.stack import Stack, auth, new_sender
from tests.support.widget import new_widget_id, wait_event, widget_history, widget_say, widget_socket

COMPLAINT = "物业维修太慢了，报修三天都没人来，我要投诉"
EMPTY = {"messages": [], "state": "bot", "agent": None, "tickets": []}


def conversation_of(stack: Stack, token: str, customer: str) -> dict:
    status, body = http("GET", f"{stack.desk_url}/api/conversations", headers=auth(token))
    assert status == 200, body
    return next(c for c in body["conversations"] if c["customer_id"] == customer)


def test_own_session_restores_turns_and_tickets(stack: Stack):
    customer = new_widget_id()
    replies = widget_say(
        stack.rasa_url, customer, COMPLAINT, lambda found: any("KF" in r.get("text", "") for r in found)
    )
    number = next(r["text"] for r in replies if "KF" in r.get("text", ""))
    status, body = widget_history(stack.desk_url, customer)
    assert status == 200, body
    assert body["state"] == "bot" and body["agent"] is None
    assert body["messages"][0]["from"] == "customer" and body["messages"][0]["text"] == COMPLAINT
    assert any(m["from"] == "bot" and m["text"] == number for m in body["messages"])
    assert all(m["at"].endswith("+08:00") for m in body["messages"])
    assert len(body["tickets"]) == 1 and body["tickets"][0] in number


def test_another_id_reveals_nothing_and_other_ids_are_refused(stack: Stack):
    customer = new_widget_id()
    widget_say(stack.rasa_url, customer, COMPLAINT)
    # Anybody else's well-formed id: exactly what a brand-new widget gets.
    assert widget_history(stack.desk_url, new_widget_id()) == (200, EMPTY)
    # A REST customer with tickets, and ids that are no widget's: not found.
    rest_customer = new_sender("rest-history")
    stack.say(rest_customer, COMPLAINT)
    for other in (rest_customer, "WEB-" + customer[4:].upper(), "web-short", "taobao:buyer", customer + "x" * 40):
        status, body = widget_history(stack.desk_url, other)
        assert status == 404, (other, status, body)
        assert "KF" not in str(body) and COMPLAINT not in str(body)


def test_answer_is_readable_from_any_shop_page_without_cookies(stack: Stack):
    request = urllib.request.Request(
        f"{stack.desk_url}/api/widget/{new_widget_id()}/history", headers={"Origin": "https://shop.example.com"}
    )
    with urllib.request.urlopen(request, timeout=30) as resp:
        assert resp.headers["Access-Control-Allow-Origin"] == "*"
        assert "Access-Control-Allow-Credentials" not in resp.headers
        assert "Set-Cookie" not in resp.headers


def test_waiting_then_served_by_an_agent(stack: Stack):
    customer = new_widget_id()
    widget_say(stack.rasa_url, customer, "转人工", lambda replies: any(r.get("kefu_handoff") for r in replies))
    status, body = widget_history(stack.desk_url, customer)
    assert status == 200 and body["state"] == "waiting" and body["agent"] is None, body
    assert body["messages"][0] == {"from": "customer", "text": "转人工", "at": body["messages"][0]["at"]}

    name, password = add_agent(stack.env, prefix="history-agent")
    token = login(stack.desk_url, name, password)
    conversation = conversation_of(stack, token, customer)
    assert http("POST", f"{stack.desk_url}/api/conversations/{conversation['id']}/take", headers=auth(token))[0] == 200
    reply = "您好，我是人工客服，请问有什么可以帮您？"
    sent = http("POST", f"{stack.desk_url}/api/conversations/{conversation['id']}/reply", {"text": reply}, auth(token))
    assert sent[0] == 200, sent
    status, body = widget_history(stack.desk_url, customer)
    assert status == 200 and body["state"] == "agent" and body["agent"] == name, body
    assert body["messages"][-1]["from"] == "agent" and body["messages"][-1]["agent"] == name
    assert body["messages"][-1]["text"] == reply
    # Another customer's history knows nothing of it.
    assert widget_history(stack.desk_url, new_widget_id()) == (200, EMPTY)


def test_agent_typing_reaches_only_that_widget_customer(stack: Stack):
    customer, bystander = new_widget_id(), new_widget_id()
    widget_say(stack.rasa_url, customer, "转人工", lambda replies: any(r.get("kefu_handoff") for r in replies))
    name, password = add_agent(stack.env, prefix="typist")
    token = login(stack.desk_url, name, password)
    conversation = conversation_of(stack, token, customer)["id"]
    assert http("POST", f"{stack.desk_url}/api/conversations/{conversation}/take", headers=auth(token))[0] == 200
    ws_url = stack.desk_url.replace("http://", "ws://") + "/api/live"

    async def scenario() -> None:
        async with (
            widget_socket(stack.rasa_url, customer) as (_, events),
            widget_socket(stack.rasa_url, bystander) as (_, other_events),
            aiohttp.ClientSession(headers=auth(token)) as client,
            client.ws_connect(ws_url) as ws,
        ):
            await ws.send_json({"watch": conversation, "after": 0})
            await ws.send_json({"type": "typing", "conversation_id": conversation, "typing": True})
            started = await wait_event(events, lambda n, d: n == "kefu_typing")
            assert started == {"typing": True, "agent": name}
            await ws.send_json({"type": "typing", "conversation_id": conversation, "typing": False})
            await wait_event(events, lambda n, d: n == "kefu_typing" and d["typing"] is False)
            assert [e for e in other_events if e[0] == "kefu_typing"] == []

    asyncio.run(scenario())
    # Nothing of it is in the conversation: typing is no turn.
    events = stack.tracker(customer)["events"]
    customs = [((e.get("data") or {}).get("custom") or {}) for e in events if e["event"] == "bot"]
    assert customs and not any("typing" in c for c in customs), customs


def test_typing_route_on_rasa_needs_the_token(stack: Stack):
    customer = new_widget_id()
    url = f"{stack.rasa_url}/conversations/{customer}/typing"
    assert http("POST", url, {"typing": True, "agent": "张三"})[0] == 401
    assert stack.rasa_api("POST", f"/conversations/{customer}/typing", {"typing": "yes"})[0] == 400
    assert stack.rasa_api("POST", f"/conversations/{customer}/typing", {"typing": True})[1] == {"sent": True}
    # Other channels have no typing signal.
    assert stack.rasa_api("POST", "/conversations/wechat:abc/typing", {"typing": True})[1] == {"sent": False}
