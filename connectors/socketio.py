"""Rasa's socket.io channel (the web widget), with one rule added.

Rasa takes the widget's `session_id` as the customer's id, and anybody can
open the socket. Without a rule, a page could send `taobao:<nick>` and write
into that buyer's conversation (pause it, answer their survey). Widget ids
are random (`web-` and 32 hex digits, made by widget.js); other ids are
dropped before they reach the bot.
"""
from __future__ import annotations

import logging
import re
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint

from connectors.rest import SYSTEM_BUSY_REPLY

logger = logging.getLogger(__name__)
WIDGET_ID = re.compile(r"^web-[0-9a-z]{16,64}$")


class KefuSocketIOInput(SocketIOInput):
    """Same name, events and output as Rasa's `socketio` channel."""

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        async def checked(message: UserMessage) -> Any:
            if not WIDGET_ID.match(message.sender_id or ""):
                logger.warning("socket.io message with a non-widget session id refused: %r",
                               (message.sender_id or "")[:80])
                return None
            try:
                return await on_new_message(message)
            except Exception:
                # Rasa's handler would leave the widget silent.
                logger.exception("socket.io message from %s failed", message.sender_id)
                await message.output_channel.send_text_message(message.sender_id, SYSTEM_BUSY_REPLY)
                return None

        return super().blueprint(checked)
