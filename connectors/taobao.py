"""Taobao / Tmall buyer chat (channels `taobao` and `tmall`) and pushed order events.

Buyers' messages arrive as TOP-signed HTTP POSTs from the platform's robot
relay (or the shop's own relay), form-encoded or as a JSON object of strings:

    POST /webhooks/taobao/webhook   (and /webhooks/tmall/webhook)
      app_key, timestamp (YYYY-MM-DD HH:MM:SS, China time), sign_method, sign
      msg_id        the platform's message id (duplicates are answered once)
      buyer_nick    the buyer's nick, or
      buyer_open_uid  the buyer's open_uid when the nick is not disclosed
      seller_nick   the shop (optional; passed back on replies)
      content       the buyer's text (may be empty: a polite prompt is sent)
      pic_url       a picture the buyer sent (optional): downloaded from the
                    allowed image hosts (KEFU_MEDIA_URL_HOSTS), kept on their
                    ticket and acknowledged; elsewhere kept as a link
      msg_time      when the buyer wrote, YYYY-MM-DD HH:MM:SS (optional)

Replies are not in the HTTP answer: each bot text goes to the buyer with the
robot chat method (`TopAPI.send_chat`), and texts the gateway refuses are
kept for the desk. Order events pushed by a relay use the same signature:

    POST /webhooks/taobao/tmc   (and /webhooks/tmall/tmc)
      app_key, timestamp, sign_method, sign
      topic (taobao_trade_TradeCreate …), content (JSON text), pub_time, msg_id (optional)

Refused without reaching the bot: body over 1 MiB → 413; not form/JSON, or
missing fields, text that is not UTF-8 (a lone surrogate in JSON too) → 400;
wrong app_key, wrong signature, timestamp more than 10 minutes off → 403.
A text over 5,000 characters is not cut: the buyer is asked to send it in
parts. Customers are `taobao:<buyer>` / `tmall:<buyer>`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.base import (
    BEING_ANSWERED,
    EMPTY_MESSAGE_REPLY,
    BadRequest,
    PlatformChannel,
    TurnFailed,
    channel_blueprint,
    run_turn,
    texts_of,
)
from connectors.media import keep_download, media_dir, url_allowed, url_hosts
from kefu.clients.media_download import download_url
from kefu.clients.top_api import DEFAULT_API_BASE, DEFAULT_CHAT_METHOD, TopAPI, TopConfig
from kefu.clients.top_sign import verify_top_sign
from kefu.core.deliveries import Claim, read_cursor, save_cursor
from kefu.core.errors import KefuError, Unavailable
from kefu.core.media import MAX_BYTES as MAX_MEDIA_BYTES
from kefu.core.models import SHANGHAI
from kefu.core.orders import BadTradeEvent, apply_event, parse_tmc
from kefu.text.received import MAX_TEXT_CHARS, TOO_LONG_REPLY, InvalidInput, decode_utf8, parse_json

logger = logging.getLogger(__name__)
DEDUP_CHANNEL = "taobao-shop"

MAX_BODY_BYTES = 1024 * 1024
MAX_BUYER_CHARS = 128  # the reply-route table's key length
TIMESTAMP_TOLERANCE_SECONDS = 600  # the gateway's own ±10 minutes


def parse_params(body: bytes, content_type: str) -> dict[str, str]:
    """A flat dict of strings from a form or JSON body (the signed parameters)."""
    if len(body) > MAX_BODY_BYTES:
        raise BadRequest("body larger than 1 MiB", status=413)
    try:
        text = decode_utf8(body)
    except InvalidInput:
        raise BadRequest("body must be UTF-8") from None
    if "json" in content_type or text.lstrip().startswith("{"):
        try:
            # Also refuses a "\udfff" escape: valid JSON, but no text, and the
            # signature check alone would crash encoding it.
            raw = parse_json(body)
        except InvalidInput as exc:
            raise BadRequest(f"body is not valid JSON text: {exc}") from None
        if not isinstance(raw, dict):
            raise BadRequest("JSON body must be an object")
        if any(isinstance(v, (dict, list)) for v in raw.values()):
            raise BadRequest("JSON values must be strings or numbers")
        return {str(k): "" if v is None else str(v) for k, v in raw.items()}
    try:
        # errors="strict": percent-escapes that are not UTF-8 are refused, not
        # silently turned into U+FFFD.
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True, errors="strict")
    except UnicodeDecodeError:
        raise BadRequest("form values must be UTF-8") from None
    except ValueError:
        raise BadRequest("body must be form-encoded or a JSON object")
    params = dict(pairs)
    if len(params) != len(pairs):
        # Which of two values was signed is ambiguous.
        raise BadRequest("repeated parameter")
    return params


def check_signed(params: dict[str, str], app_key: str, secret: str, now: datetime | None = None) -> None:
    if params.get("app_key") != app_key:
        raise BadRequest("unknown app_key", status=403)
    if not verify_top_sign(params, secret):
        raise BadRequest("invalid signature", status=403)
    try:
        sent = datetime.strptime(params.get("timestamp", ""), "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI)
    except ValueError:
        raise BadRequest("invalid timestamp (YYYY-MM-DD HH:MM:SS, China time)", status=403)
    if abs(((now or datetime.now(SHANGHAI)) - sent).total_seconds()) > TIMESTAMP_TOLERANCE_SECONDS:
        raise BadRequest("timestamp more than 10 minutes off", status=403)


def buyer_of(params: dict[str, str]) -> tuple[str, str]:
    """(buyer id, id kind for send_chat): the nick when the platform gives it."""
    for field, kind in (("buyer_nick", "nick"), ("buyer_open_uid", "open_uid")):
        value = params.get(field, "").strip()
        if value:
            if len(value) > MAX_BUYER_CHARS:
                raise BadRequest(f"{field} longer than {MAX_BUYER_CHARS} characters")
            return value, kind
    raise BadRequest("missing buyer_nick or buyer_open_uid")


def check_message(params: dict[str, str]) -> None:
    if not params.get("msg_id", "").strip():
        raise BadRequest("missing msg_id")
    if "content" not in params:
        raise BadRequest("missing content")
    if params.get("msg_time"):
        try:
            datetime.strptime(params["msg_time"], "%Y-%m-%d %H:%M:%S")
        except ValueError:
            raise BadRequest("msg_time must be YYYY-MM-DD HH:MM:SS")


class TaobaoOutput(OutputChannel):
    """Texts outside an inbound turn (an agent's answer from the desk)."""

    def __init__(self, channel: TaobaoInput) -> None:
        self.channel = channel

    def name(self) -> str:  # type: ignore[override]
        return self.channel.name()

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        prefix = f"{self.channel.name()}:"
        buyer = recipient_id[len(prefix) :] if recipient_id.startswith(prefix) else recipient_id
        kind, seller = await self.channel.route_of(buyer)
        await self.channel.send(recipient_id, buyer, text, kind, seller)

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        # Rasa's default would send the JSON as chat text (e.g. the handoff marker).
        logger.debug("%s: custom message to %s not sent", self.name(), recipient_id)


class TaobaoInput(PlatformChannel):
    @classmethod
    def name(cls) -> str:
        return "taobao"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        c = {k: ("" if v is None else str(v)) for k, v in (credentials or {}).items()}
        return cls(
            TopConfig(
                app_key=c.get("app_key", ""),
                app_secret=c.get("app_secret", ""),
                session=c.get("session", ""),
                api_base=c.get("api_base") or DEFAULT_API_BASE,
                sign_method=c.get("sign_method") or "md5",
                chat_method=c.get("chat_method") or DEFAULT_CHAT_METHOD,
            )
        )

    def __init__(self, config: TopConfig) -> None:
        super().__init__()
        self.config = config
        self.api = TopAPI(config)
        self._routes: dict[str, str] = {}
        self.media_dir = media_dir()
        self.media_hosts = url_hosts()

    @property
    def claims(self) -> str:
        # One namespace for taobao and tmall: the same signed message replayed
        # to the other route is a duplicate, not a second turn.
        return DEDUP_CHANNEL

    def get_output_channel(self) -> OutputChannel | None:
        return TaobaoOutput(self) if self.config.configured else None

    # -- how to reach a buyer again (agent replies) -------------------------
    @property
    def _route_table(self) -> str:
        return f"{self.name()}-route"

    async def remember_route(self, buyer: str, kind: str, seller: str) -> None:
        """Kept in the desk database so any server process can answer later,
        also a buyer known only by open_uid."""
        route = json.dumps([kind, seller], ensure_ascii=False)
        if self._routes.get(buyer) == route:
            return
        try:
            await self.store.run(save_cursor, self._route_table, buyer, route)
            self._routes[buyer] = route
        except Exception:  # a racing insert of the same route is harmless
            logger.warning("could not store the reply route of %s", buyer, exc_info=True)

    async def route_of(self, buyer: str) -> tuple[str, str]:
        route = self._routes.get(buyer) or await self.store.run(read_cursor, self._route_table, buyer)
        if not route:
            return "nick", ""
        kind, seller = json.loads(route)
        return kind, seller

    async def send(self, sender_id: str, buyer: str, text: str, kind: str = "nick", seller: str = "") -> bool:
        return await self.send_or_keep(
            sender_id, text, lambda checked: self.api.send_chat(buyer, checked, seller=seller, id_kind=kind)
        )

    def undelivered_reason(self, exc: Exception) -> str:
        return str(exc) or repr(exc)  # the gateway's codes and message; repr for an error without text

    # -- inbound -------------------------------------------------------------
    async def handle_message(self, params: dict[str, str], on_new_message) -> HTTPResponse:
        check_message(params)
        buyer, kind = buyer_of(params)
        seller = params.get("seller_nick", "").strip()
        msg_id = params["msg_id"].strip()
        sender_id = f"{self.name()}:{buyer}"
        try:
            claim, reply = await self.answer_once(
                msg_id, lambda: self.answer(params, msg_id, sender_id, buyer, kind, seller, on_new_message)
            )
        except TurnFailed:
            # Released: the platform's retry runs the turn again (a ticket is
            # still made once per message id).
            logger.exception("%s message %s from %s failed", self.name(), msg_id, sender_id)
            raise KefuError("processing failed, please retry") from None
        if claim is Claim.done:
            return response.json({"success": True, "duplicate": True})
        if claim is Claim.in_flight:  # another server is answering it (or died doing so)
            raise Unavailable(BEING_ANSWERED)
        assert reply is not None  # Claim.new: answered here
        return reply

    async def answer(
        self, params: dict[str, str], msg_id: str, sender_id: str, buyer: str, kind: str, seller: str, on_new_message
    ) -> HTTPResponse:
        await self.remember_route(buyer, kind, seller)
        text = params["content"].strip()
        pic_url = params.get("pic_url", "").strip()
        if pic_url:
            ack = await self.keep_picture(sender_id, pic_url)
            sent_ack = await self.send(sender_id, buyer, ack, kind, seller)
            if not text:  # a picture alone: the acknowledgement is the answer
                return response.json({"success": True, "replies": 1, "undelivered": 0 if sent_ack else 1})
        if not text:
            texts: list[str] = [EMPTY_MESSAGE_REPLY]
        elif len(text) > MAX_TEXT_CHARS:
            # Said, not cut: the end of a cut message may be what mattered.
            texts = [TOO_LONG_REPLY]
        else:
            messages = await run_turn(
                on_new_message,
                self.name(),
                text,
                sender_id,
                message_id=f"{self.name()}-{msg_id}",
                metadata={"msg_id": msg_id, "seller_nick": seller, "msg_time": params.get("msg_time", "")},
            )
            # Nothing collected while the conversation is with a human (paused).
            texts = texts_of(messages)
        sent = [await self.send(sender_id, buyer, t, kind, seller) for t in texts]
        return response.json({"success": True, "replies": len(texts), "undelivered": sent.count(False)})

    async def keep_picture(self, sender_id: str, pic_url: str) -> str:
        """A buyer's picture (`pic_url`): downloaded only from the allowed
        image hosts (KEFU_MEDIA_URL_HOSTS), else kept as a link."""
        allowed = url_allowed(pic_url, self.media_hosts)
        if not allowed:
            logger.warning("%s picture from %s not on an allowed host; kept as a link", self.name(), sender_id)
        return await keep_download(
            self.store,
            self.media_dir,
            self.name(),
            sender_id,
            "image",
            (lambda: download_url(pic_url, MAX_MEDIA_BYTES)) if allowed else None,
            pic_url,
        )

    async def handle_tmc(self, params: dict[str, str]) -> HTTPResponse:
        try:
            event = parse_tmc(params)
        except BadTradeEvent as exc:
            raise BadRequest(f"bad trade event: {exc}") from None
        try:
            order = await self.store.run(apply_event, event)
        except Exception:  # not committed: a 500 makes the pusher retry
            logger.exception("applying TMC message %s failed", params.get("msg_id", "?"))
            raise KefuError("could not store the event, please retry") from None
        return response.json(
            {"success": True, "platform": order.platform, "order_id": order.order_id, "status": order.status}
        )

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = channel_blueprint(f"{self.name()}_webhook", __name__)

        @bp.listener("after_server_stop")
        async def close_api(_app: Any, _loop: Any) -> None:
            # The TOP client keeps one HTTP session for the server's life.
            await self.api.close()

        @bp.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self.config.configured else "not configured"})

        async def signed(request: Request) -> dict[str, str]:
            if not self.config.configured:
                raise Unavailable(f"{self.name()} channel is not configured (TAOBAO_APP_KEY, TAOBAO_APP_SECRET)")
            params = parse_params(request.body or b"", request.headers.get("content-type", ""))
            check_signed(params, self.config.app_key, self.config.app_secret)
            return params

        @bp.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            return await self.handle_message(await signed(request), on_new_message)

        @bp.route("/tmc", methods=["POST"])
        async def tmc(request: Request) -> HTTPResponse:
            return await self.handle_tmc(await signed(request))

        return bp


class TmallInput(TaobaoInput):
    """The same relay for a Tmall shop; customers are `tmall:<buyer>`."""

    @classmethod
    def name(cls) -> str:
        return "tmall"
