"""The web widget's socket.io channel reaches the same bot."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import socketio

from tests.support.stack import Stack
from tests.support.waiting import wait_until


def widget(
    stack: Stack, act: Callable[[socketio.AsyncClient, str], Awaitable[None]], done: Callable[[dict], bool]
) -> list:
    """Open a widget session, run `act`, collect bot messages until `done`."""

    async def converse() -> list:
        client = socketio.AsyncClient()
        replies: list = []
        got = asyncio.Event()
        confirmed = asyncio.Event()

        @client.on("session_confirm")
        async def on_confirm(data):
            confirmed.set()  # the server has put this connection in the session's room

        @client.on("bot_uttered")
        async def on_bot(data):
            replies.append(data)
            if done(data):
                got.set()

        await client.connect(stack.rasa_url, socketio_path="/socket.io", transports=["polling"])
        session_id = f"web-{uuid.uuid4().hex}"
        await client.emit("session_request", {"session_id": session_id})
        await asyncio.wait_for(confirmed.wait(), timeout=30)
        await act(client, session_id)
        await asyncio.wait_for(got.wait(), timeout=30)
        await client.disconnect()
        return replies

    return asyncio.run(converse())


def test_socketio_session_gets_greeting(stack: Stack):
    async def greet(client, session_id):
        await client.emit("user_uttered", {"message": "您好，在吗", "session_id": session_id})

    replies = widget(stack, greet, lambda data: True)
    assert any("您好" in r.get("text", "") for r in replies), replies


def test_socketio_texts_pass_the_advertising_law_check(stack: Stack):
    """A bot text sent to a widget user (here injected through Rasa's API, as
    the desk does for agent replies) is rewritten like on every other channel."""

    async def inject(client, session_id):
        # widget() waited for session_confirm: the session's room is joined.
        status, body = await asyncio.to_thread(
            stack.rasa_api,
            "POST",
            f"/conversations/{session_id}/tracker/events?output_channel=socketio&execute_side_effects=true",
            [{"event": "bot", "text": "这是全网最低价的套餐"}],
        )
        assert status == 200, body

    texts = [r.get("text", "") for r in widget(stack, inject, lambda data: "套餐" in data.get("text", ""))]
    assert any("套餐" in t for t in texts), texts
    assert not any("最低价" in t for t in texts), texts


def test_a_session_id_that_is_not_a_widget_id_never_reaches_the_bot(stack: Stack):
    """Somebody's platform id (taobao:<nick>) sent over the public socket is dropped."""
    victim = f"taobao:victim-{uuid.uuid4().hex[:8]}"

    refused = f"refused: session id {victim!r} is not a widget id"

    async def impersonate(client, session_id):
        await client.emit("user_uttered", {"message": "转人工", "session_id": victim})
        # The server has handled (and refused) it before the tracker is read below.
        await asyncio.to_thread(
            wait_until,
            lambda: refused in stack.log_path.read_text(errors="replace"),
            30,
            0.1,
            "the impersonating message refused in the server's log",
        )
        await client.emit("user_uttered", {"message": "你好", "session_id": session_id})

    # Ends on the reply to the second, legitimate message.
    widget(stack, impersonate, lambda data: True)
    events = stack.rasa_api("GET", f"/conversations/{victim}/tracker")[1]["events"]
    assert [e for e in events if e["event"] == "user"] == []
