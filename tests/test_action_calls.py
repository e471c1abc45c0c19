"""Rasa's calls to the action server (kefu/runtime/action_calls.py): one
kept-alive connection for many calls, the body encoded with ujson and read
back as json would, errors as Rasa's own method raises them."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web
from aiohttp.test_utils import TestServer
from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered
from rasa.utils.endpoints import ClientResponseError, EndpointConfig

from kefu.runtime import action_calls


def test_many_calls_share_one_connection_and_the_body_is_what_json_would_send():
    peers: list[tuple] = []
    bodies: list[dict] = []

    async def webhook(request: web.Request) -> web.Response:
        peers.append(request.transport.get_extra_info("peername"))
        bodies.append(json.loads(await request.read()))
        if bodies[-1].get("fail"):
            return web.json_response({"error": "nope"}, status=400)
        return web.json_response({"events": [], "responses": [{"text": "好的"}]})

    async def scenario():
        app = web.Application()
        app.router.add_post("/webhook", webhook)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        endpoint = EndpointConfig(str(server.make_url("/webhook")), headers={"X-Kefu-Actions-Token": "t"})
        body = {"next_action": "action_handoff", "tracker": {"text": "转人工 / 退款 😀", "confidence": 0.25}}
        try:
            answers = [await action_calls.request(endpoint, json=body, method="post") for _ in range(5)]
            try:
                await action_calls.request(endpoint, json={"fail": True}, method="post")
            except ClientResponseError as exc:
                status = exc.status
            return answers, status
        finally:
            await action_calls.close_sessions()
            await server.close()

    answers, status = asyncio.run(scenario())
    assert answers == [{"events": [], "responses": [{"text": "好的"}]}] * 5
    assert status == 400
    assert len(set(peers)) == 1  # one TCP connection for all six calls
    assert bodies[0] == {"next_action": "action_handoff", "tracker": {"text": "转人工 / 退款 😀", "confidence": 0.25}}


def test_event_types_resolve_as_before_and_unknown_ones_still_fail():
    action_calls.install()
    assert EndpointConfig.request is action_calls.request  # what Rasa's RemoteAction calls
    assert Event.resolve_by_type("slot") is SlotSet
    assert Event.resolve_by_type("user") is UserUttered
    assert Event.resolve_by_type("action") is ActionExecuted
    assert Event.resolve_by_type("no-such-event", default=SlotSet) is SlotSet
    assert Event.resolve_by_type("topic") is None
    try:
        Event.resolve_by_type("no-such-event")
    except ValueError:
        pass
    else:
        raise AssertionError("an unknown event type must still be refused")
