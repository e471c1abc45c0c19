"""A web-widget customer without a browser: the socket.io session widget.js
opens (session_request, then user_uttered), and what the widget reads from
the desk after a reload (GET /api/widget/<id>/history)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Any

import socketio

from tests.support.scaled_stack import http

EVENTS = ("session_confirm", "bot_uttered", "kefu_typing")


def new_widget_id() -> str:
    """An id as widget.js makes it: the customer's only credential."""
    return f"web-{uuid.uuid4().hex}"


@asynccontextmanager
async def widget_socket(rasa_url: str, session_id: str):
    """A connected socket in the session's room; yields (client, events),
    events being every (name, data) the server sent, in order."""
    client = socketio.AsyncClient()
    events: list[tuple[str, Any]] = []
    confirmed = asyncio.Event()

    def record(name: str):
        async def handler(data=None):
            events.append((name, data))
            if name == "session_confirm":
                confirmed.set()

        client.on(name, handler)

    for name in EVENTS:
        record(name)

    await client.connect(rasa_url, socketio_path="/socket.io", transports=["polling"])
    try:
        await client.emit("session_request", {"session_id": session_id})
        await asyncio.wait_for(confirmed.wait(), timeout=30)
        yield client, events
    finally:
        await client.disconnect()


async def wait_event(events: list, check: Callable[[str, Any], bool], timeout: float = 30) -> Any:
    """The data of the first event `check(name, data)` accepts, polling until it came."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        for name, data in events:
            if check(name, data):
                return data
        if asyncio.get_running_loop().time() >= deadline:
            raise AssertionError(f"no such socket.io event within {timeout} s; got {events!r}")
        await asyncio.sleep(0.05)


def widget_say(rasa_url: str, session_id: str, text: str, done: Callable[[list[dict]], bool] | None = None) -> list:
    """One customer message over socket.io; the bot's messages (bot_uttered
    data) until `done(replies)` (by default: the first one)."""

    async def converse() -> list:
        async with widget_socket(rasa_url, session_id) as (client, events):
            await client.emit("user_uttered", {"message": text, "session_id": session_id})

            def replies() -> list[dict]:
                return [data for name, data in events if name == "bot_uttered"]

            finished = done or (lambda found: True)
            await wait_event(events, lambda name, data: bool(replies()) and finished(replies()))
            return replies()

    return asyncio.run(converse())


def widget_history(desk_url: str, session_id: str) -> tuple[int, Any]:
    return http("GET", f"{desk_url}/api/widget/{session_id}/history")
