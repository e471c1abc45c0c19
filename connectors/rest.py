"""Rasa's REST channel with input checks, for trusted integrations.

Rasa's own channel files every request without a `sender` under one shared
conversation ("default") and answers broken bodies with a stack-trace-like
error. Customers and integrators get a clear 400 instead, and an empty
message gets a polite prompt rather than a guess from the NLU.

The caller names the customer (`sender`), so whoever can reach this route
can write as any REST customer: it is meant for the shop's own systems.
With `KEFU_REST_TOKEN` set (credentials.yml `token`), every message needs
`Authorization: Bearer <token>` (401 otherwise). Ids of the other channels
(`wechat:…`, `taobao:…`, the widget's `web-…`) are refused whatever the
token: those conversations belong to signed platforms or to one browser.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.base import EMPTY_MESSAGE_REPLY, SYSTEM_BUSY_REPLY, BadRequest, channel_blueprint
from kefu.core.errors import Unauthorized
from kefu.text.ad_law import check_outgoing
from kefu.text.received import MAX_TEXT_CHARS, InvalidInput, check_metadata, parse_json

MAX_SENDER_LENGTH = 255
MAX_MESSAGE_LENGTH = MAX_TEXT_CHARS
# Room for the largest accepted message even fully \u-escaped (text and
# metadata); anything bigger is refused before it is parsed.
MAX_BODY_BYTES = 128 * 1024

logger = logging.getLogger(__name__)


MESSAGE_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


class TokenRequired(Unauthorized):
    """401 without the right bearer token; the answer names the scheme."""

    headers = {"WWW-Authenticate": "Bearer"}


OTHER_CHANNELS = ("wechat", "wecom", "taobao", "tmall", "sms", "socketio")
# The web widget's ids (connectors/socketio.py): one browser's conversation.
WIDGET_PREFIX = "web-"
USAGE = 'send JSON in UTF-8: {"sender": "...", "message": "..."}'


def is_other_channels_id(sender: str) -> bool:
    return (":" in sender and sender.split(":", 1)[0] in OTHER_CHANNELS) or sender.startswith(WIDGET_PREFIX)


def parse_body(raw: bytes) -> dict:
    try:
        # Strict UTF-8, no lone surrogates in any string, bounded nesting.
        body = parse_json(raw)
    except InvalidInput as exc:
        raise BadRequest(f"{exc}: {USAGE}") from None
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    sender = body.get("sender")
    if not isinstance(sender, str) or not sender.strip():
        raise BadRequest("'sender' (the customer id) must be a non-empty string")
    if len(sender) > MAX_SENDER_LENGTH:
        raise BadRequest(f"'sender' is longer than {MAX_SENDER_LENGTH} characters")
    if is_other_channels_id(sender):
        # Those ids belong to signed platform channels or to one browser's
        # widget session: nobody may write as them here.
        raise BadRequest("'sender' must not be another channel's customer id (wechat:, taobao:, web- …)")
    message = body.get("message")
    if message is None:
        message = ""
    if not isinstance(message, str):
        raise BadRequest("'message' must be a string")
    try:
        metadata = check_metadata(body.get("metadata"))
    except InvalidInput as exc:
        raise BadRequest(str(exc)) from None
    message_id = body.get("message_id")
    if message_id is not None and not (isinstance(message_id, str) and MESSAGE_ID.match(message_id)):
        raise BadRequest("'message_id' must be 1-100 letters, digits, '-' or '_'")
    return {"sender": sender, "message": message, "metadata": metadata, "message_id": message_id}


def message_id_of(body: dict, request_id: str | None) -> str | None:
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
    def name(cls) -> str:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> KefuRestInput:
        return cls(token=str((credentials or {}).get("token") or ""))

    def __init__(self, token: str = "") -> None:
        self.token = token

    def authorized(self, request: Request) -> bool:
        if not self.token:
            return True
        scheme, _, given = (request.headers.get("Authorization") or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self.token.encode())

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        checked = channel_blueprint(f"kefu_rest_{id(self)}", __name__)

        @checked.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @checked.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self.authorized(request):
                raise TokenRequired("this channel needs 'Authorization: Bearer <KEFU_REST_TOKEN>'")
            if len(request.body or b"") > MAX_BODY_BYTES:
                raise BadRequest(f"body larger than {MAX_BODY_BYTES // 1024} KiB", status=413)
            body = parse_body(request.body)
            sender, text = body["sender"], body["message"]
            if not text.strip():
                return response.json([{"recipient_id": sender, "text": EMPTY_MESSAGE_REPLY}])
            if len(text) > MAX_MESSAGE_LENGTH:
                raise BadRequest(f"'message' is longer than {MAX_MESSAGE_LENGTH} characters", status=413)
            return await self._handle(
                on_new_message,
                request,
                sender,
                text,
                body["metadata"],
                message_id_of(body, request.headers.get("X-Request-ID")),
            )

        return checked

    async def _handle(
        self, on_new_message, request: Request, sender: str, text: str, metadata: dict | None, message_id: str | None
    ) -> HTTPResponse:
        collector = CollectingOutputChannel()
        try:
            await on_new_message(
                UserMessage(
                    text, collector, sender, input_channel=self.name(), metadata=metadata, message_id=message_id
                )
            )
        except Exception as exc:
            # Tell the customer rather than answering with silence. The first
            # line names the cause (LockError: Redis, ConversationStoreUnavailable:
            # PostgreSQL …); the traceback follows.
            logger.exception(
                "rest message from %s failed (%s: %s)", sender, type(exc).__name__, " ".join(str(exc).split())[:200]
            )
            collector.messages.append({"recipient_id": sender, "text": SYSTEM_BUSY_REPLY})
        for message in collector.messages:
            if message.get("text"):
                message["text"] = check_outgoing(message["text"], self.name(), sender)
        return response.json(collector.messages)
