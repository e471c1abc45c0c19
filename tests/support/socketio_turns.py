"""One customer turn over the widget's socket.io channel, as the widget sends it."""

from __future__ import annotations

import asyncio
import uuid

import socketio

from tests.support.stack import Stack
from tests.support.waiting import wait_until


def socketio_say(stack: Stack, text: str, session_id: str | None = None, timeout: float = 30) -> list[str]:
    """Send `text` from a fresh (or the given) widget session; the bot's texts
    of that turn: all of them, once the tracker listens again after the
    message and the widget has received as many texts as the tracker holds."""

    session_id = session_id or f"web-{uuid.uuid4().hex}"

    def texts_in_tracker() -> int | None:
        status, tracker = stack.rasa_api("GET", f"/conversations/{session_id}/tracker")
        events = tracker.get("events", []) if status == 200 else []
        users = [i for i, e in enumerate(events) if e["event"] == "user" and e.get("text") == text]
        if not users or events[-1]["event"] != "action" or events[-1].get("name") != "action_listen":
            return None
        return sum(1 for e in events[users[-1] :] if e["event"] == "bot" and e.get("text"))

    async def converse() -> list[str]:
        client = socketio.AsyncClient()
        texts: list[str] = []
        confirmed = asyncio.Event()

        @client.on("session_confirm")
        async def on_confirm(data):
            confirmed.set()  # this connection is in the session's room

        @client.on("bot_uttered")
        async def on_bot(data):
            if data.get("text"):
                texts.append(data["text"])

        await client.connect(stack.rasa_url, socketio_path="/socket.io", transports=["polling"])
        try:
            await client.emit("session_request", {"session_id": session_id})
            await asyncio.wait_for(confirmed.wait(), timeout=timeout)
            await client.emit("user_uttered", {"message": text, "session_id": session_id})

            def answered() -> bool:
                expected = texts_in_tracker()
                return bool(expected) and len(texts) >= expected

            await asyncio.to_thread(wait_until, answered, timeout, 0.2, f"the widget's answer to {text!r}")
        finally:
            await client.disconnect()
        return texts

    return asyncio.run(converse())
