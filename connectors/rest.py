"""Rasa's REST channel with input checks.

Rasa's own channel files every request without a `sender` under one shared
conversation ("default") and answers broken bodies with a stack-trace-like
error. Customers and integrators get a clear 400 instead, and an empty
message gets a polite prompt rather than a guess from the NLU.
"""
from __future__ import annotations

import json
import logging
import re
from typing import Any, Awaitable, Callable, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response

from desk.ad_law import check_outgoing
from sanic.request import Request
from sanic.response import HTTPResponse

MAX_SENDER_LENGTH = 255
MAX_MESSAGE_LENGTH = 5000
EMPTY_MESSAGE_REPLY = "您好，没有收到您的文字内容，请问有什么可以帮您？"
# Not "received": when the conversation store is down the message may not
# have been stored, so the customer is asked to send it again.
SYSTEM_BUSY_REPLY = "抱歉，系统暂时有点忙，请您稍后再发送一次，或回复“转人工”。"

logger = logging.getLogger(__name__)


MESSAGE_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


class BadRequest(Exception):
    pass


OTHER_CHANNELS = ("wechat", "wecom", "taobao", "tmall", "sms", "socketio")


def parse_body(raw: bytes) -> dict:
    try:
        body = json.loads(raw or b"")
    except (ValueError, RecursionError):  # bad JSON or encoding, or absurd nesting
        raise BadRequest("body must be JSON: {\"sender\": \"...\", \"message\": \"...\"}")
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    sender = body.get("sender")
    if not isinstance(sender, str) or not sender.strip():
        raise BadRequest("'sender' (the customer id) must be a non-empty string")
    if len(sender) > MAX_SENDER_LENGTH:
        raise BadRequest(f"'sender' is longer than {MAX_SENDER_LENGTH} characters")
    if sender.split(":", 1)[0] in OTHER_CHANNELS and ":" in sender:
        # Those ids belong to signed platform channels: nobody may write as them here.
        raise BadRequest("'sender' must not be another channel's customer id (wechat:, taobao: …)")
    message = body.get("message")
    if message is None:
        message = ""
    if not isinstance(message, str):
        raise BadRequest("'message' must be a string")
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise BadRequest("'metadata' must be an object")
    message_id = body.get("message_id")
    if message_id is not None and not (isinstance(message_id, str) and MESSAGE_ID.match(message_id)):
        raise BadRequest("'message_id' must be 1-100 letters, digits, '-' or '_'")
    return {"sender": sender, "message": message, "metadata": metadata, "message_id": message_id}


def message_id_of(body: dict, request_id: Optional[str]) -> Optional[str]:
    """The client's own id for this message, else the load balancer's request
    id (the same on an attempt retried on another server): tickets are keyed by
    it, so a retried message opens no second ticket. None: Rasa picks one."""
    if body.get("message_id"):
        return body["message_id"]
    if request_id and MESSAGE_ID.match(request_id):
        return f"req-{request_id}"
    return None


class KefuRestInput(RestInput):
    @classmethod
    def name(cls) -> Text:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        checked = Blueprint(f"kefu_rest_{id(self)}", __name__)

        @checked.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @checked.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                body = parse_body(request.body)
            except BadRequest as exc:
                return response.json({"error": str(exc)}, status=400)
            sender, text = body["sender"], body["message"]
            if not text.strip():
                return response.json([{"recipient_id": sender, "text": EMPTY_MESSAGE_REPLY}])
            if len(text) > MAX_MESSAGE_LENGTH:
                return response.json(
                    {"error": f"'message' is longer than {MAX_MESSAGE_LENGTH} characters"}, status=413
                )
            return await self._handle(on_new_message, request, sender, text, body["metadata"],
                                      message_id_of(body, request.headers.get("X-Request-ID")))

        return checked

    async def _handle(self, on_new_message, request: Request, sender: str, text: str,
                      metadata: Optional[dict], message_id: Optional[str]) -> HTTPResponse:
        collector = CollectingOutputChannel()
        try:
            await on_new_message(
                UserMessage(text, collector, sender, input_channel=self.name(), metadata=metadata,
                            message_id=message_id)
            )
        except Exception as exc:
            # Tell the customer rather than answering with silence. The first
            # line names the cause (LockError: Redis, ConversationStoreUnavailable:
            # PostgreSQL …); the traceback follows.
            logger.exception("rest message from %s failed (%s: %s)", sender, type(exc).__name__,
                             " ".join(str(exc).split())[:200])
            collector.messages.append({"recipient_id": sender, "text": SYSTEM_BUSY_REPLY})
        for message in collector.messages:
            if message.get("text"):
                message["text"] = check_outgoing(message["text"], self.name(), sender)
        return response.json(collector.messages)
