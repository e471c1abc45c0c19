"""The web widget's socket.io channel reaches the same bot."""
from __future__ import annotations

import asyncio

import socketio

from conftest import Stack, new_sender


def test_socketio_session_gets_greeting(stack: Stack):
    async def converse() -> list:
        client = socketio.AsyncClient()
        replies: list = []
        got = asyncio.Event()

        @client.on("bot_uttered")
        async def on_bot(data):
            replies.append(data)
            got.set()

        await client.connect(stack.rasa_url, socketio_path="/socket.io", transports=["polling"])
        session_id = new_sender("web")
        await client.emit("session_request", {"session_id": session_id})
        await client.emit("user_uttered", {"message": "您好，在吗", "session_id": session_id})
        await asyncio.wait_for(got.wait(), timeout=30)
        await client.disconnect()
        return replies

    replies = asyncio.run(converse())
    assert any("您好" in r.get("text", "") for r in replies), replies
