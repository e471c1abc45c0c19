"""WeCom 微信客服 (kf) as a Rasa input channel.

The callback only says "there are new messages" (kf_msg_or_event with a
Token); the messages themselves are read with kf/sync_msg from a cursor kept
in the desk database and advanced only after a batch is handled, so a crash
re-reads rather than loses. Each message is claimed once (msgid), customer
messages (origin 3) get the bot's answer through kf/send_msg, messages of a
human servicer (origin 5) never do, and a handoff moves the session to the
human queue with kf/service_state/trans.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import xmltodict
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException
from wechatpy.exceptions import InvalidSignatureException

from connectors.base import BadRequest, PlatformChannel, channel_blueprint, run_turn
from connectors.media import keep_download, media_dir
from connectors.wechat import check_body, refuse_dtd
from kefu.clients.wecom_api import WeComAPI, WeComAPIError
from kefu.core.deliveries import read_cursor, save_cursor, take_over_stale
from kefu.core.errors import Unavailable
from kefu.core.handoff import HANDOFF_MARKER
from kefu.core.media import MAX_BYTES as MAX_MEDIA_BYTES
from kefu.text.received import INVALID_TEXT_REPLY, MAX_TEXT_CHARS, TOO_LONG_REPLY, is_valid_text

logger = logging.getLogger(__name__)

ORIGIN_CUSTOMER = 3
STATE_WAITING_FOR_HUMAN = 2  # 待接入池
DEFAULT_API_BASE = "https://qyapi.weixin.qq.com"
# What a customer may send besides text, kept on their ticket (connectors/media.py).
MEDIA_KINDS = {"image": "image", "voice": "voice", "video": "video", "file": "file"}
# Longer than a turn takes: an unfinished claim this old lost its server.
CLAIM_STALE = timedelta(seconds=30)


def kept_copy(item: dict[str, Any]) -> str:
    """The message as its claim keeps it; \\u-escaped when it holds a lone
    surrogate, which no database accepts (the answer then tells the customer)."""
    kept = json.dumps(item, ensure_ascii=False)
    return kept if is_valid_text(kept) else json.dumps(item)


class WeComOutput(OutputChannel):
    """An agent's answer from the desk, sent with kf/send_msg."""

    @classmethod
    def name(cls) -> str:
        return "wecom"

    def __init__(self, channel: WeComInput) -> None:
        self.channel = channel

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        external = recipient_id.split(":", 1)[1] if recipient_id.startswith("wecom:") else recipient_id
        await self.channel.send(recipient_id, self.channel.kf_account.get(external, ""), external, text)


class WeComInput(PlatformChannel):
    claim_stale_after = CLAIM_STALE

    @classmethod
    def name(cls) -> str:
        return "wecom"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        c = {k: ("" if v is None else str(v)) for k, v in (credentials or {}).items()}
        return cls(
            corpid=c.get("corpid", ""),
            secret=c.get("secret", ""),
            token=c.get("token", ""),
            aes_key=c.get("encoding_aes_key", ""),
            api_base=c.get("api_base") or DEFAULT_API_BASE,
        )

    def __init__(self, corpid: str, secret: str, token: str, aes_key: str, api_base: str) -> None:
        super().__init__()
        self.configured = bool(corpid and token and aes_key)
        self.crypto = WeChatCrypto(token, aes_key, corpid) if self.configured else None
        self.api = WeComAPI(api_base, corpid, secret)
        # Last kf account each customer wrote to (for agent replies).
        self.kf_account: dict[str, str] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._background: set[asyncio.Task] = set()
        self.media_dir = media_dir()

    def get_output_channel(self) -> OutputChannel | None:
        return WeComOutput(self) if self.configured else None

    async def send(self, sender_id: str, open_kfid: str, external_userid: str, text: str) -> None:
        await self.send_or_keep(
            sender_id, text, lambda checked: self.api.send_text(open_kfid, external_userid, checked)
        )

    async def sync(self, open_kfid: str, callback_token: str, on_new_message) -> None:
        lock = self._locks.setdefault(open_kfid, asyncio.Lock())
        async with lock:
            # Messages a server claimed and died with: WeCom will not send
            # them again, so whichever server syncs next answers them.
            for payload in await self.store.run(take_over_stale, self.claims, None, self.claim_stale_after):
                await self.answer_taken_over(json.loads(payload), on_new_message)
            cursor = await self.store.run(read_cursor, self.name(), open_kfid)
            while True:
                page = await self.api.sync_msg(open_kfid, cursor, callback_token)
                for item in page.get("msg_list") or []:
                    await self.handle(item, on_new_message)
                cursor = page.get("next_cursor") or cursor
                await self.store.run(save_cursor, self.name(), open_kfid, cursor)
                if not page.get("has_more"):
                    break

    async def handle(self, item: dict[str, Any], on_new_message) -> None:
        msgid = str(item.get("msgid") or "")
        if not is_valid_text(msgid):
            # No database stores it as a key: it could never be claimed, and
            # the failing sync would read the same page again forever.
            logger.warning("wecom message with an unreadable msgid %s skipped", ascii(msgid)[:80])
            return
        # Another sync (any server may run one) is answering it, or it is
        # answered: skip. A claim its server died with is taken over by a
        # later sync (sync() above), from the message kept in the claim.
        if msgid:
            await self.answer_once(msgid, lambda: self._answer(item, msgid, on_new_message), kept_copy(item))

    async def answer_taken_over(self, item: dict[str, Any], on_new_message) -> None:
        msgid = str(item.get("msgid") or "")
        await self.answer_claimed(msgid, lambda: self._answer(item, msgid, on_new_message))

    async def _answer(self, item: dict[str, Any], msgid: str, on_new_message) -> None:
        if item.get("origin") == ORIGIN_CUSTOMER and item.get("msgtype") in MEDIA_KINDS:
            await self._keep_media(item, msgid)
            return
        if item.get("origin") != ORIGIN_CUSTOMER or item.get("msgtype") != "text":
            return  # servicer (5) and system (4) messages never get a bot reply
        external = str(item.get("external_userid") or "")
        open_kfid = str(item.get("open_kfid") or "")
        text = str((item.get("text") or {}).get("content") or "").strip()
        if not external or not text:
            return
        if not (is_valid_text(external) and is_valid_text(open_kfid)):
            logger.warning("wecom message %s with an unreadable customer or kf id skipped", ascii(msgid)[:80])
            return
        self.kf_account[external] = open_kfid
        sender_id = f"wecom:{external}"
        # Said, not cut (nor a crash in the tracker store): a pulled message
        # has no HTTP answer to refuse it with, so the customer is told.
        if not is_valid_text(text):
            logger.warning(
                "wecom message %s from %s is not valid UTF-8 text; not passed to the bot", ascii(msgid)[:80], sender_id
            )
            await self.send(sender_id, open_kfid, external, INVALID_TEXT_REPLY)
            return
        if len(text) > MAX_TEXT_CHARS:
            await self.send(sender_id, open_kfid, external, TOO_LONG_REPLY)
            return
        # A failed turn (TurnFailed) is not lost: the claim goes and the
        # cursor stays, so the next sync reads it again (a ticket is still
        # made once per message id).
        messages = await run_turn(
            on_new_message, self.name(), text, sender_id, message_id=f"wecom-{msgid}", metadata={"open_kfid": open_kfid}
        )
        for message in messages:
            if message.get("text"):
                await self.send(sender_id, open_kfid, external, message["text"])
            elif (message.get("custom") or {}).get(HANDOFF_MARKER):
                try:
                    await self.api.transfer(open_kfid, external, STATE_WAITING_FOR_HUMAN)
                except WeComAPIError:
                    logger.exception("moving %s to the human queue failed", sender_id)

    async def _keep_media(self, item: dict[str, Any], msgid: str) -> None:
        """A customer's photo/voice/video/file: downloaded with media/get and
        kept on their ticket, then acknowledged (a pulled message: no HTTP
        answer is waiting, so the download's time costs nobody a reply)."""
        external = str(item.get("external_userid") or "")
        open_kfid = str(item.get("open_kfid") or "")
        kind = MEDIA_KINDS[str(item["msgtype"])]
        body = item.get(item["msgtype"])
        media_id = str(body.get("media_id") or "") if isinstance(body, dict) else ""
        if not (external and is_valid_text(external) and is_valid_text(open_kfid) and is_valid_text(media_id)):
            logger.warning("wecom media message %s without a readable customer or media id skipped", ascii(msgid)[:80])
            return
        self.kf_account[external] = open_kfid
        sender_id = f"wecom:{external}"
        ack = await keep_download(
            self.store,
            self.media_dir,
            self.name(),
            sender_id,
            kind,
            # Well within the claim's 30 s: a download never outlives its claim.
            (lambda: self.api.download_media(media_id, MAX_MEDIA_BYTES, timeout=20)) if media_id else None,
            f"wecom-media:{media_id}" if media_id else None,
        )
        await self.send(sender_id, open_kfid, external, ack)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = channel_blueprint("wecom_webhook", __name__)

        @bp.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok" if self.configured else "not configured"})

        @bp.route("/webhook", methods=["GET", "POST"])
        async def webhook(request: Request) -> HTTPResponse:
            if not self.configured:
                raise Unavailable("wecom channel is not configured (WECOM_*)")
            args = {k: request.args.get(k, "") for k in ("msg_signature", "timestamp", "nonce", "echostr")}
            if request.method == "GET":
                try:
                    echo = self.crypto.check_signature(
                        args["msg_signature"], args["timestamp"], args["nonce"], args["echostr"]
                    )
                except (InvalidSignatureException, InvalidCorpIdException):
                    raise BadRequest("invalid signature", status=403)
                except Exception:
                    raise BadRequest("cannot decrypt echostr")
                return response.text(echo if isinstance(echo, str) else echo.decode())
            body = request.body or b""
            check_body(body)
            try:
                xml = self.crypto.decrypt_message(body, args["msg_signature"], args["timestamp"], args["nonce"])
            except (InvalidSignatureException, InvalidCorpIdException):
                raise BadRequest("invalid message signature", status=403)
            except Exception:
                raise BadRequest("cannot decrypt message")
            refuse_dtd(xml)
            try:
                event = xmltodict.parse(xml)["xml"]
            except Exception:
                raise BadRequest("malformed message XML")
            if not isinstance(event, dict):  # <xml>text</xml> parses to a string
                raise BadRequest("malformed message XML")
            if event.get("Event") == "kf_msg_or_event" and event.get("OpenKfId"):
                task = asyncio.create_task(
                    self._sync_logged(event["OpenKfId"], event.get("Token") or "", on_new_message)
                )
                self._background.add(task)
                task.add_done_callback(self._background.discard)
            return response.text("success")

        return bp

    async def _sync_logged(self, open_kfid: str, token: str, on_new_message) -> None:
        try:
            await self.sync(open_kfid, token, on_new_message)
        except (Exception, SystemExit):  # a SystemExit here would end the whole server
            # The cursor was not advanced past unhandled messages: the next
            # callback reads them again.
            logger.exception("wecom sync for %s failed", open_kfid)
