"""WeChat official account (公众号) server messages as a Rasa input channel.

Protocol facts (../shared/notes/channels.md): WeChat signs every call, may
encrypt the body (safe/compatible mode, `encrypt_type=aes`), drops the call
after 5 s and retries it three times. So a reply ready within the budget goes
back passively in the HTTP answer; a slower one is answered `success` at once
and delivered through the 客服消息 API. Every message is claimed once in the
desk database, so retries (also to another server process) are not processed
twice. Crypto, signatures, XML parsing and reply XML are wechatpy's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature

from connectors.base import (
    BEING_ANSWERED,
    SYSTEM_BUSY_REPLY,
    BadRequest,
    PlatformChannel,
    channel_blueprint,
    run_turn,
    texts_of,
)
from connectors.media import keep_download, media_dir
from kefu.clients.wechat_api import OUTSIDE_WINDOW, WeChatAPI, WeChatAPIError
from kefu.core.conversations import close_open_conversations
from kefu.core.deliveries import Claim
from kefu.core.errors import Unavailable
from kefu.core.media import MAX_BYTES as MAX_MEDIA_BYTES
from kefu.text.ad_law import check_outgoing
from kefu.text.received import MAX_TEXT_CHARS, TOO_LONG_REPLY, InvalidInput, check_text, decode_utf8

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
DEFAULT_API_BASE = "https://api.weixin.qq.com"

WELCOME = "您好，欢迎关注！我是智能客服小服，咨询、报修、缴费、投诉都可以直接发消息给我；需要人工服务请回复“转人工”。"
# Photos, voice (without WeChat's recognition) and video are downloaded and
# kept on the customer's ticket (connectors/media.py); the rest is answered.
MEDIA_KINDS = {"image": "image", "voice": "voice", "video": "video", "shortvideo": "video"}
NON_TEXT_REPLIES = {
    "location": "您好，位置已收到。如需报修，请告诉我具体房号和故障情况。",
    "link": "您好，链接已收到。请问需要咨询什么呢？需要人工查看请回复“转人工”。",
}
FALLBACK_NON_TEXT = "您好，这类消息暂时无法处理，请发送文字消息，或回复“转人工”。"


@dataclass(frozen=True)
class WeChatConfig:
    token: str
    appid: str
    secret: str
    aes_key: str
    api_base: str
    reply_budget: float
    timestamp_tolerance: int

    @classmethod
    def from_credentials(cls, c: dict[str, Any]) -> WeChatConfig:
        def text(key: str, default: str = "") -> str:
            value = c.get(key)
            return default if value in (None, "") else str(value)

        return cls(
            token=text("token"),
            appid=text("appid"),
            secret=text("appsecret"),
            aes_key=text("encoding_aes_key"),
            api_base=text("api_base", DEFAULT_API_BASE),
            reply_budget=float(text("reply_budget", "4")),
            # 0 disables the age check (only for replaying recorded vectors).
            timestamp_tolerance=int(text("timestamp_tolerance", "300")),
        )


def refuse_dtd(xml) -> None:
    """WeChat never sends a DTD: refusing one rules out entity expansion and
    external entities before any parser sees the XML."""
    lowered = (xml.encode() if isinstance(xml, str) else xml).lower()
    if b"<!doctype" in lowered or b"<!entity" in lowered:
        raise BadRequest("XML with a DTD or entities is refused")


def check_body(body: bytes) -> None:
    if len(body) > MAX_BODY_BYTES:
        raise BadRequest("body larger than 1 MiB", status=413)
    if not body.strip().startswith(b"<"):
        raise BadRequest("body must be XML")
    check_utf8(body, "body")
    refuse_dtd(body)


def check_utf8(xml, field: str) -> None:
    """WeChat and WeCom send UTF-8: anything else (or a lone surrogate in a
    decrypted text) is refused before a parser or the bot sees it."""
    try:
        check_text(xml, field) if isinstance(xml, str) else decode_utf8(xml, field)
    except InvalidInput as exc:
        raise BadRequest(str(exc)) from None


def dedup_key(message) -> str:
    if getattr(message, "type", "") == "event":
        return f"event:{message.source}:{message.time}:{getattr(message, 'event', '')}"
    return f"msg:{message.id}"


class WeChatOutput(OutputChannel):
    """Messages outside a passive reply (an agent's answer from the desk)."""

    @classmethod
    def name(cls) -> str:
        return "wechat"

    def __init__(self, channel: WeChatInput) -> None:
        self.channel = channel

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        openid = recipient_id.split(":", 1)[1] if recipient_id.startswith("wechat:") else recipient_id
        for part in text.strip().split("\n\n"):
            await self.channel.send(recipient_id, openid, part)


class WeChatInput(PlatformChannel):
    @classmethod
    def name(cls) -> str:
        return "wechat"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls(WeChatConfig.from_credentials(credentials or {}))

    def __init__(self, config: WeChatConfig) -> None:
        super().__init__()
        self.config = config
        self.crypto = WeChatCrypto(config.token, config.aes_key, config.appid) if config.aes_key else None
        self.api = WeChatAPI(config.api_base, config.appid, config.secret)
        self._background: set[asyncio.Task] = set()
        self.media_dir = media_dir()

    @property
    def claim_stale_after(self) -> timedelta:  # type: ignore[override]
        # A live server answers within the reply budget; a claim older
        # than that belongs to a server that died mid-turn.
        return timedelta(seconds=self.config.reply_budget + 1)

    def get_output_channel(self) -> OutputChannel | None:
        return WeChatOutput(self) if self.config.token else None

    # -- request checks ------------------------------------------------------
    def verify_query(self, request: Request) -> dict[str, str]:
        args = {
            k: request.args.get(k, "")
            for k in ("signature", "timestamp", "nonce", "echostr", "encrypt_type", "msg_signature")
        }
        try:
            check_signature(self.config.token, args["signature"], args["timestamp"], args["nonce"])
        except InvalidSignatureException:
            raise BadRequest("invalid signature", status=403)
        if self.config.timestamp_tolerance > 0:
            try:
                age = abs(time.time() - int(args["timestamp"]))
            except ValueError:
                raise BadRequest("invalid timestamp", status=403)
            if age > self.config.timestamp_tolerance:
                raise BadRequest("timestamp too old", status=403)
        return args

    def decode(self, body: bytes, args: dict[str, str]):
        xml: Any = body
        if args["encrypt_type"] == "aes":
            if self.crypto is None:
                raise BadRequest("encrypted message but no EncodingAESKey configured")
            try:
                xml = self.crypto.decrypt_message(body, args["msg_signature"], args["timestamp"], args["nonce"])
            except (InvalidSignatureException, InvalidAppIdException):
                raise BadRequest("invalid message signature", status=403)
            except Exception:  # broken base64/padding/XML from the outside
                raise BadRequest("cannot decrypt message")
            check_utf8(xml, "decrypted message")
            refuse_dtd(xml)  # the decrypted XML is parsed too
        try:
            message = parse_message(xml)
        except Exception:
            raise BadRequest("malformed message XML")
        if message is None or not getattr(message, "source", None):
            raise BadRequest("malformed message XML")
        return message

    def render(self, message, text: str | None, args: dict[str, str]) -> HTTPResponse:
        if not text:
            return response.text("success")
        text = check_outgoing(text, self.name(), f"wechat:{message.source}")
        xml = TextReply(content=text, message=message).render()
        if args["encrypt_type"] == "aes" and self.crypto is not None:
            xml = self.crypto.encrypt_message(xml, args["nonce"], args["timestamp"])
        return response.text(xml, content_type="application/xml")

    # -- delivery ------------------------------------------------------------
    async def deliver_later(self, sender_id: str, openid: str, turn: asyncio.Task) -> None:
        try:
            messages = await turn
        except (Exception, SystemExit):  # a SystemExit here would end the whole server
            # WeChat was told "success" already and will not retry: without a
            # word the customer would wait for an answer that never comes.
            logger.exception("wechat message from %s failed", sender_id)
            await self.send(sender_id, openid, SYSTEM_BUSY_REPLY)
            return
        for text in texts_of(messages):
            await self.send(sender_id, openid, text)

    async def send(self, sender_id: str, openid: str, text: str) -> None:
        await self.send_or_keep(sender_id, text, lambda checked: self.api.send_text(openid, checked))

    def undelivered_reason(self, exc: Exception) -> str:
        if isinstance(exc, WeChatAPIError):
            return "outside_48h_window" if exc.errcode == OUTSIDE_WINDOW else str(exc)
        return repr(exc)  # network: the text is kept for an agent

    async def answer(self, message, on_new_message, args: dict[str, str]) -> HTTPResponse:
        sender_id = f"wechat:{message.source}"
        if message.type == "event":
            event = getattr(message, "event", "")
            if event in ("subscribe", "subscribe_scan"):
                return self.render(message, WELCOME, args)
            if event == "unsubscribe":
                await self.store.run(close_open_conversations, sender_id)
            return response.text("success")
        if message.type == "text":
            text = message.content or ""
        elif message.type == "voice" and getattr(message, "recognition", None):
            text = message.recognition
        elif message.type in MEDIA_KINDS and getattr(message, "media_id", None):
            return await self.answer_media(message, args)
        else:
            return self.render(message, NON_TEXT_REPLIES.get(message.type, FALLBACK_NON_TEXT), args)
        if not text.strip():
            return self.render(message, "您好，请问有什么可以帮您？", args)
        if len(text) > MAX_TEXT_CHARS:
            # Said, not cut: the end of a cut message may be what mattered.
            return self.render(message, TOO_LONG_REPLY, args)

        turn = asyncio.create_task(
            run_turn(
                on_new_message,
                self.name(),
                text,
                sender_id,
                message_id=f"wechat-{message.id}",
                metadata={"wechat_msg_id": str(message.id)},
            )
        )
        try:
            messages = await asyncio.wait_for(asyncio.shield(turn), timeout=self.config.reply_budget)
        except asyncio.TimeoutError:
            # Past the budget WeChat would give up on us: acknowledge now and
            # send the bot's answer through the 客服消息 API when it is ready.
            later = asyncio.create_task(self.deliver_later(sender_id, message.source, turn))
            self._background.add(later)
            later.add_done_callback(self._background.discard)
            return response.text("success")
        except Exception:
            logger.exception("wechat message from %s failed", sender_id)
            return self.render(message, SYSTEM_BUSY_REPLY, args)
        # A passive reply carries one message; several bot texts become one.
        return self.render(message, "\n\n".join(texts_of(messages)), args)

    # -- photos, voice, video -------------------------------------------------
    async def keep_media(self, message) -> str:
        kind = MEDIA_KINDS[message.type]
        source = f"wechat-media:{message.media_id}"
        if kind == "image" and getattr(message, "image", None):
            source += f" {message.image}"  # PicUrl: the agent's link when the download fails
        return await keep_download(
            self.store,
            self.media_dir,
            self.name(),
            f"wechat:{message.source}",
            kind,
            lambda: self.api.download_media(message.media_id, MAX_MEDIA_BYTES),
            source,
        )

    async def answer_media(self, message, args: dict[str, str]) -> HTTPResponse:
        """Kept and acknowledged within the reply budget, like a turn; a slow
        download is acknowledged later through the 客服消息 API."""
        sender_id = f"wechat:{message.source}"
        task = asyncio.create_task(self.keep_media(message))
        try:
            ack = await asyncio.wait_for(asyncio.shield(task), timeout=self.config.reply_budget)
        except asyncio.TimeoutError:
            later = asyncio.create_task(self.acknowledge_later(sender_id, message.source, task))
            self._background.add(later)
            later.add_done_callback(self._background.discard)
            return response.text("success")
        except Exception:
            logger.exception("wechat %s from %s not kept", message.type, sender_id)
            return self.render(message, SYSTEM_BUSY_REPLY, args)
        return self.render(message, ack, args)

    async def acknowledge_later(self, sender_id: str, openid: str, task: asyncio.Task) -> None:
        try:
            ack = await task
        except (Exception, SystemExit):
            logger.exception("wechat media from %s not kept", sender_id)
            ack = SYSTEM_BUSY_REPLY
        await self.send(sender_id, openid, ack)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = channel_blueprint("wechat_webhook", __name__)

        @bp.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self.config.token else "not configured"})

        @bp.route("/webhook", methods=["GET", "POST"])
        async def webhook(request: Request) -> HTTPResponse:
            if not self.config.token:
                raise Unavailable("wechat channel is not configured (WECHAT_TOKEN)")
            args = self.verify_query(request)
            if request.method == "GET":
                return response.text(args["echostr"])
            body = request.body or b""
            check_body(body)
            message = self.decode(body, args)
            claim, reply = await self.answer_once(
                dedup_key(message), lambda: self.answer(message, on_new_message, args)
            )
            if claim is Claim.done:
                return response.text("success")  # a retry of an answered message
            if claim is Claim.in_flight:
                # Not "success": WeChat would stop retrying, and if that
                # server died the message would never be answered.
                raise Unavailable(BEING_ANSWERED)
            assert reply is not None  # Claim.new: answered here
            return reply

        return bp
