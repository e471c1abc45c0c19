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
from datetime import datetime
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text, Tuple
from urllib.parse import parse_qsl

from rasa.core.channels.channel import (CollectingOutputChannel, InputChannel, OutputChannel,
                                       UserMessage)
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from kefu.clients.top_api import DEFAULT_API_BASE, DEFAULT_CHAT_METHOD, TopAPI, TopConfig
from kefu.clients.top_sign import verify_top_sign
from kefu.text.ad_law import check_outgoing
from kefu.core.db import ThreadedSessions
from kefu.core.deliveries import (Claim, claim_delivery, finish_delivery, read_cursor, record_undelivered,
                             release_delivery, save_cursor)
from kefu.core.models import SHANGHAI
from kefu.core.orders import BadTradeEvent, apply_event, parse_tmc
from kefu.text.received import MAX_TEXT_CHARS, TOO_LONG_REPLY, InvalidInput, decode_utf8, parse_json

logger = logging.getLogger(__name__)
DEDUP_CHANNEL = "taobao-shop"

MAX_BODY_BYTES = 1024 * 1024
MAX_BUYER_CHARS = 128  # the reply-route table's key length
TIMESTAMP_TOLERANCE_SECONDS = 600  # the gateway's own ±10 minutes
EMPTY_TEXT_REPLY = "您好，没有收到您的文字内容，请问有什么可以帮您？"


class BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def parse_params(body: bytes, content_type: str) -> Dict[str, str]:
    """A flat dict of strings from a form or JSON body (the signed parameters)."""
    if len(body) > MAX_BODY_BYTES:
        raise BadRequest(413, "body larger than 1 MiB")
    try:
        text = decode_utf8(body)
    except InvalidInput:
        raise BadRequest(400, "body must be UTF-8") from None
    if "json" in content_type or text.lstrip().startswith("{"):
        try:
            # Also refuses a "\udfff" escape: valid JSON, but no text, and the
            # signature check alone would crash encoding it.
            raw = parse_json(body)
        except InvalidInput as exc:
            raise BadRequest(400, f"body is not valid JSON text: {exc}") from None
        if not isinstance(raw, dict):
            raise BadRequest(400, "JSON body must be an object")
        if any(isinstance(v, (dict, list)) for v in raw.values()):
            raise BadRequest(400, "JSON values must be strings or numbers")
        return {str(k): "" if v is None else str(v) for k, v in raw.items()}
    try:
        # errors="strict": percent-escapes that are not UTF-8 are refused, not
        # silently turned into U+FFFD.
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True, errors="strict")
    except UnicodeDecodeError:
        raise BadRequest(400, "form values must be UTF-8") from None
    except ValueError:
        raise BadRequest(400, "body must be form-encoded or a JSON object")
    params = dict(pairs)
    if len(params) != len(pairs):
        # Which of two values was signed is ambiguous.
        raise BadRequest(400, "repeated parameter")
    return params


def check_signed(params: Dict[str, str], app_key: str, secret: str, now: Optional[datetime] = None) -> None:
    if params.get("app_key") != app_key:
        raise BadRequest(403, "unknown app_key")
    if not verify_top_sign(params, secret):
        raise BadRequest(403, "invalid signature")
    try:
        sent = datetime.strptime(params.get("timestamp", ""), "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI)
    except ValueError:
        raise BadRequest(403, "invalid timestamp (YYYY-MM-DD HH:MM:SS, China time)")
    if abs(((now or datetime.now(SHANGHAI)) - sent).total_seconds()) > TIMESTAMP_TOLERANCE_SECONDS:
        raise BadRequest(403, "timestamp more than 10 minutes off")


def buyer_of(params: Dict[str, str]) -> Tuple[str, str]:
    """(buyer id, id kind for send_chat): the nick when the platform gives it."""
    for field, kind in (("buyer_nick", "nick"), ("buyer_open_uid", "open_uid")):
        value = params.get(field, "").strip()
        if value:
            if len(value) > MAX_BUYER_CHARS:
                raise BadRequest(400, f"{field} longer than {MAX_BUYER_CHARS} characters")
            return value, kind
    raise BadRequest(400, "missing buyer_nick or buyer_open_uid")


def check_message(params: Dict[str, str]) -> None:
    if not params.get("msg_id", "").strip():
        raise BadRequest(400, "missing msg_id")
    if "content" not in params:
        raise BadRequest(400, "missing content")
    if params.get("msg_time"):
        try:
            datetime.strptime(params["msg_time"], "%Y-%m-%d %H:%M:%S")
        except ValueError:
            raise BadRequest(400, "msg_time must be YYYY-MM-DD HH:MM:SS")


class TaobaoOutput(OutputChannel):
    """Texts outside an inbound turn (an agent's answer from the desk)."""

    def __init__(self, channel: "TaobaoInput") -> None:
        self.channel = channel

    def name(self) -> Text:  # type: ignore[override]
        return self.channel.name()

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        prefix = f"{self.channel.name()}:"
        buyer = recipient_id[len(prefix):] if recipient_id.startswith(prefix) else recipient_id
        kind, seller = await self.channel.route_of(buyer)
        await self.channel.send(recipient_id, buyer, text, kind, seller)

    async def send_custom_json(self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any) -> None:
        # Rasa's default would send the JSON as chat text (e.g. the handoff marker).
        logger.debug("%s: custom message to %s not sent", self.name(), recipient_id)


class TaobaoInput(InputChannel):
    @classmethod
    def name(cls) -> Text:
        return "taobao"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        c = {k: ("" if v is None else str(v)) for k, v in (credentials or {}).items()}
        return cls(TopConfig(
            app_key=c.get("app_key", ""), app_secret=c.get("app_secret", ""),
            session=c.get("session", ""), api_base=c.get("api_base") or DEFAULT_API_BASE,
            sign_method=c.get("sign_method") or "md5",
            chat_method=c.get("chat_method") or DEFAULT_CHAT_METHOD,
        ))

    def __init__(self, config: TopConfig) -> None:
        self.config = config
        self.api = TopAPI(config)
        self.store = ThreadedSessions()  # the desk database, shared by every server process
        self._routes: Dict[str, str] = {}

    def get_output_channel(self) -> Optional[OutputChannel]:
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

    async def route_of(self, buyer: str) -> Tuple[str, str]:
        route = self._routes.get(buyer) or await self.store.run(read_cursor, self._route_table, buyer)
        if not route:
            return "nick", ""
        kind, seller = json.loads(route)
        return kind, seller

    async def send(self, sender_id: str, buyer: str, text: str, kind: str = "nick", seller: str = "") -> bool:
        text = check_outgoing(text, self.name(), sender_id)
        try:
            await self.api.send_chat(buyer, text, seller=seller, id_kind=kind)
            return True
        except Exception as exc:  # refused or unreachable: kept for an agent, never dropped
            logger.warning("%s send to %s failed: %s", self.name(), sender_id, exc)
            await self.store.run(record_undelivered, self.name(), sender_id, text, str(exc) or repr(exc))
            return False

    # -- inbound -------------------------------------------------------------
    async def handle_message(self, params: Dict[str, str], on_new_message) -> HTTPResponse:
        check_message(params)
        buyer, kind = buyer_of(params)
        seller = params.get("seller_nick", "").strip()
        msg_id = params["msg_id"].strip()
        # One namespace for taobao and tmall: the same signed message replayed
        # to the other route is a duplicate, not a second turn.
        claim = await self.store.run(claim_delivery, DEDUP_CHANNEL, msg_id)
        if claim is Claim.done:
            return response.json({"success": True, "duplicate": True})
        if claim is Claim.in_flight:  # another server is answering it (or died doing so)
            return response.json({"error": "this message is being answered; retry later"}, status=503)
        sender_id = f"{self.name()}:{buyer}"
        await self.remember_route(buyer, kind, seller)
        text = params["content"].strip()
        if not text:
            texts: List[str] = [EMPTY_TEXT_REPLY]
        elif len(text) > MAX_TEXT_CHARS:
            # Said, not cut: the end of a cut message may be what mattered.
            texts = [TOO_LONG_REPLY]
        else:
            collector = CollectingOutputChannel()
            try:
                await on_new_message(UserMessage(
                    text, collector, sender_id, input_channel=self.name(),
                    message_id=f"{self.name()}-{msg_id}",
                    metadata={"msg_id": msg_id, "seller_nick": seller, "msg_time": params.get("msg_time", "")},
                ))
            except Exception:
                # Let the platform's retry run the turn again (a ticket is
                # still made once per message id).
                logger.exception("%s message %s from %s failed", self.name(), msg_id, sender_id)
                await self.store.run(release_delivery, DEDUP_CHANNEL, msg_id)
                return response.json({"error": "processing failed, please retry"}, status=500)
            # Nothing collected while the conversation is with a human (paused).
            texts = [m["text"] for m in collector.messages if m.get("text")]
        sent = [await self.send(sender_id, buyer, t, kind, seller) for t in texts]
        await self.store.run(finish_delivery, DEDUP_CHANNEL, msg_id)
        return response.json({"success": True, "replies": len(texts), "undelivered": sent.count(False)})

    async def handle_tmc(self, params: Dict[str, str]) -> HTTPResponse:
        try:
            event = parse_tmc(params)
        except BadTradeEvent as exc:
            return response.json({"error": f"bad trade event: {exc}"}, status=400)
        try:
            order = await self.store.run(apply_event, event)
        except Exception:  # not committed: a 500 makes the pusher retry
            logger.exception("applying TMC message %s failed", params.get("msg_id", "?"))
            return response.json({"error": "could not store the event, please retry"}, status=500)
        return response.json({"success": True, "platform": order.platform, "order_id": order.order_id,
                              "status": order.status})

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = Blueprint(f"{self.name()}_webhook", __name__)

        @bp.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self.config.configured else "not configured"})

        async def signed(request: Request) -> Dict[str, str]:
            params = parse_params(request.body or b"", request.headers.get("content-type", ""))
            check_signed(params, self.config.app_key, self.config.app_secret)
            return params

        def not_configured() -> HTTPResponse:
            return response.json({"error": f"{self.name()} channel is not configured "
                                           "(TAOBAO_APP_KEY, TAOBAO_APP_SECRET)"}, status=503)

        @bp.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            if not self.config.configured:
                return not_configured()
            try:
                return await self.handle_message(await signed(request), on_new_message)
            except BadRequest as exc:
                return response.json({"error": str(exc)}, status=exc.status)

        @bp.route("/tmc", methods=["POST"])
        async def tmc(request: Request) -> HTTPResponse:
            if not self.config.configured:
                return not_configured()
            try:
                return await self.handle_tmc(await signed(request))
            except BadRequest as exc:
                return response.json({"error": str(exc)}, status=exc.status)

        return bp


class TmallInput(TaobaoInput):
    """The same relay for a Tmall shop; customers are `tmall:<buyer>`."""

    @classmethod
    def name(cls) -> Text:
        return "tmall"
