"""Rasa's socket.io channel (the web widget), with its input checked.

Rasa takes the widget's `session_id` as the customer's id, and anybody can
open the socket. Without a rule, a page could send `taobao:<nick>` and write
into that buyer's conversation (pause it, answer their survey). Widget ids
are random (`web-` and 32 hex digits, made by widget.js); other ids are
dropped before they reach the bot.

Anything else a client can send is checked before the bot sees it, as on the
REST channel: the text must be a string of real Unicode (no lone surrogates)
of at most 5,000 characters, `customData` an object of at most 16 KiB. A
refused message is logged and the customer gets a polite answer (too long,
unreadable, busy); a message that cannot be a widget's is dropped with a log
line. Engine.IO packets are capped well below its 1 MB default, so a client
cannot make the server parse 100,000-character messages while other
customers wait; an oversized packet closes that client's connection, logged.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from engineio.async_drivers.sanic import WebSocket as EngineIOWebSocket
from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint

from connectors.base import SYSTEM_BUSY_REPLY, BadRequest
from kefu.core import widget_state
from kefu.core.db import ThreadedSessions
from kefu.text.received import (
    INVALID_TEXT_REPLY,
    MAX_METADATA_BYTES,
    MAX_TEXT_CHARS,
    TOO_LONG_REPLY,
    InvalidInput,
    check_metadata,
    is_valid_text,
    parse_json,
)

logger = logging.getLogger(__name__)
WIDGET_ID = re.compile(r"^web-[0-9a-z]{16,64}$")
# The largest message the channel accepts, as a client may encode it: 5,000
# characters even as \uXXXX escapes, plus 16 KiB of metadata, plus framing.
MAX_PACKET_CHARS = 6 * MAX_TEXT_CHARS + 2 * MAX_METADATA_BYTES + 1024


class Refused(BadRequest):
    """A message that does not reach the bot; `reply` (if any) tells the
    customer why. Not an HTTP answer: it arrives over an open socket, so the
    refusal is logged and the reply emitted to that connection."""

    def __init__(self, reason: str, reply: str | None) -> None:
        super().__init__(reason)
        self.reply = reply


class _SizeLoggedWebSocket(EngineIOWebSocket):
    """Engine.IO closes a websocket whose packet is over its limit without a
    word in any log; this says so, once per refused packet."""

    async def wait(self):
        data = await super().wait()
        if len(data) > self.server.max_http_buffer_size:
            request = self.environ["sanic.request"]
            logger.warning(
                "socket.io packet of %d characters refused (limit %d) from %s; connection closed",
                len(data),
                self.server.max_http_buffer_size,
                request.ip,
            )
        return data


def _size_logged_polling(original, limit: int):
    """The long-polling side of the same limit: engine.io answers an
    oversized POST 400 and drops the session, again without a log line.
    (Set before the blueprint is registered: the route takes this handler.)"""

    async def handle_request(request, *args, **kwargs):
        length = request.headers.get("content-length", "")
        if request.method == "POST" and length.isdigit() and int(length) > limit:
            logger.warning(
                "socket.io polling packet of %s bytes refused (limit %d) from %s; session closed",
                length,
                limit,
                request.ip,
            )
        return await original(request, *args, **kwargs)

    return handle_request


def widget_message(data: Any, metadata_key: str) -> dict[str, Any]:
    """The session id, text and metadata of a `user_uttered` event, checked."""
    if not isinstance(data, dict):
        raise Refused(f"payload is a {type(data).__name__}, not an object", SYSTEM_BUSY_REPLY)
    session_id = data.get("session_id")
    if not isinstance(session_id, str) or not WIDGET_ID.match(session_id):
        raise Refused(f"session id {ascii(session_id)[:80]} is not a widget id", None)
    text = data.get("message", "")
    if text is None:
        text = ""
    if not isinstance(text, str):
        raise Refused(f"message is a {type(text).__name__}, not a string", SYSTEM_BUSY_REPLY)
    if not is_valid_text(text):
        raise Refused("message is not valid UTF-8 text (lone surrogate)", INVALID_TEXT_REPLY)
    if len(text) > MAX_TEXT_CHARS:
        raise Refused(f"message of {len(text)} characters (limit {MAX_TEXT_CHARS})", TOO_LONG_REPLY)
    metadata = data.get(metadata_key)
    try:
        if isinstance(metadata, str):  # Rasa accepts metadata as JSON text too
            metadata = parse_json(metadata.encode("utf-8", "surrogatepass"), metadata_key)
        metadata = check_metadata(metadata, metadata_key) or {}
    except InvalidInput as exc:
        raise Refused(str(exc), SYSTEM_BUSY_REPLY) from None
    return {"session_id": session_id, "text": text, "metadata": metadata}


TYPING_EVENT = "kefu_typing"
CUSTOMER_TYPING_EVENT = "kefu_customer_typing"
TYPING_NOTE_EVERY = 2.0  # seconds: the widget sends every 3 s while the customer types


class KefuSocketIOInput(SocketIOInput):
    """Same name, events and output as Rasa's `socketio` channel, plus
    `kefu_typing` (an agent typing in the desk) to the widget and
    `kefu_customer_typing` (the customer typing) from it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._store = ThreadedSessions()  # the desk database
        self._typing_noted: dict[str, float] = {}

    async def send_typing(self, session_id: str, typing: bool, agent: str | None) -> bool:
        """`{"typing", "agent"}` to the widget's sockets in the session's room
        on this server; False for an id that is no widget's (other channels
        have no typing signal) or before the channel is up."""
        if self.sio is None or not WIDGET_ID.match(session_id):
            return False
        await self.sio.emit(TYPING_EVENT, {"typing": typing, "agent": agent}, room=session_id, namespace=self.namespace)
        return True

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = super().blueprint(on_new_message)
        sio = self.sio
        sio.eio.max_http_buffer_size = MAX_PACKET_CHARS
        # An instance copy: the driver table is shared by every engine.io server.
        sio.eio._async = {**sio.eio._async, "websocket": _SizeLoggedWebSocket}
        sio.eio.handle_request = _size_logged_polling(sio.eio.handle_request, MAX_PACKET_CHARS)

        # Registered again under the same events: these replace Rasa's handlers.
        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: str, data: Any = None) -> None:
            requested = data.get("session_id") if isinstance(data, dict) else None
            if isinstance(requested, str) and WIDGET_ID.match(requested):
                session_id = requested
            else:
                # Rasa would take any id (and join its room); a client without
                # a widget id gets a new one, as widget.js would make.
                if requested is not None:
                    logger.warning(
                        "socket.io session request for a non-widget id %s; a new id is given", ascii(requested)[:80]
                    )
                session_id = f"web-{uuid.uuid4().hex}"
            if self.session_persistence:
                sio.enter_room(sid, session_id)
            await sio.emit("session_confirm", session_id, room=sid)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: str, data: Any = None) -> None:
            output = SocketIOOutput(sio, self.bot_message_evt)
            try:
                checked = widget_message(data, self.metadata_key)
            except Refused as refused:
                logger.warning("socket.io message on connection %s refused: %s", sid, refused)
                if refused.reply:
                    await output.send_text_message(sid, refused.reply)  # this connection only
                return
            sender = checked["session_id"] if self.session_persistence else sid
            message = UserMessage(
                checked["text"], output, sender, input_channel=self.name(), metadata=checked["metadata"]
            )
            try:
                await on_new_message(message)
            except (Exception, SystemExit):
                # Rasa's handler would leave the widget silent, and a
                # SystemExit in this background task would end the server.
                logger.exception("socket.io message from %s failed", sender)
                await output.send_text_message(sender, SYSTEM_BUSY_REPLY)

        @sio.on(CUSTOMER_TYPING_EVENT, namespace=self.namespace)
        async def customer_typing(sid: str, data: Any = None) -> None:
            """The customer types in the widget: the agent's page shows
            "客户正在输入…". Noted at most every few seconds per session; a
            bad payload is ignored (it is only a hint)."""
            session_id = data.get("session_id") if isinstance(data, dict) else None
            if not isinstance(session_id, str) or not WIDGET_ID.match(session_id):
                return
            now = time.monotonic()
            if now - self._typing_noted.get(session_id, -TYPING_NOTE_EVERY) < TYPING_NOTE_EVERY:
                return
            self._typing_noted[session_id] = now
            if len(self._typing_noted) > 10_000:  # forget the oldest sessions
                for old in list(self._typing_noted)[:5_000]:
                    del self._typing_noted[old]
            try:
                await self._store.run(widget_state.customer_typing, session_id)
            except Exception as exc:  # the desk database away: no hint, nothing else lost
                logger.warning("customer typing not noted: %s", exc.__class__.__name__)

        return bp
