"""A WeChat official account's side of the channel: messages signed and
encrypted with wechatpy's own classes, as WeChat posts them, and replies
decrypted the same way."""

from __future__ import annotations

import time
import urllib.parse
import uuid
from typing import Any

import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

from tests.support.platforms import WECHAT_AES_KEY, WECHAT_APPID, WECHAT_TOKEN
from tests.support.scaled_stack import http

CRYPTO = WeChatCrypto(WECHAT_TOKEN, WECHAT_AES_KEY, WECHAT_APPID)


def sign(timestamp: str, nonce: str, token: str = WECHAT_TOKEN) -> str:
    signer = WeChatSigner()
    signer.add_data(token, timestamp, nonce)
    return signer.signature


def text_xml(openid: str, text: str, msg_id: int | None = None, msg_type: str = "text", extra: str = "") -> str:
    msg_id = msg_id or uuid.uuid4().int % 10**18
    content = f"<Content><![CDATA[{text}]]></Content>" if msg_type == "text" else ""
    return (
        f"<xml><ToUserName><![CDATA[gh_kefu]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[{msg_type}]]></MsgType>"
        f"{content}{extra}<MsgId>{msg_id}</MsgId></xml>"
    )


def event_xml(openid: str, event: str) -> str:
    return (
        f"<xml><ToUserName><![CDATA[gh_kefu]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[{event}]]></Event></xml>"
    )


def url(stack: Any) -> str:
    """stack: anything serving the channels at .rasa_url (the stack, the fast channel app)."""
    return f"{stack.rasa_url}/webhooks/wechat/webhook"


def post(
    stack: Any,
    xml: str,
    encrypt: bool = True,
    timestamp: str | None = None,
    nonce: str = "nonce42",
    token: str = WECHAT_TOKEN,
    raw: bytes | None = None,
):
    """Post as WeChat would; returns (status, decrypted reply dict or raw text)."""
    timestamp = timestamp or str(int(time.time()))
    params = {"signature": sign(timestamp, nonce, token), "timestamp": timestamp, "nonce": nonce}
    body = raw if raw is not None else xml.encode()
    if encrypt and raw is None:
        encrypted = CRYPTO.encrypt_message(xml, nonce, timestamp)
        params.update(encrypt_type="aes", msg_signature=xmltodict.parse(encrypted)["xml"]["MsgSignature"])
        body = encrypted.encode()
    status, reply = http(
        "POST", f"{url(stack)}?{urllib.parse.urlencode(params)}", raw=body, headers={"Content-Type": "text/xml"}
    )
    if status == 200 and isinstance(reply, str) and reply.startswith("<xml>"):
        if encrypt:
            outer = xmltodict.parse(reply)["xml"]
            reply = CRYPTO.decrypt_message(reply, outer["MsgSignature"], outer["TimeStamp"], outer["Nonce"])
        return status, xmltodict.parse(reply)["xml"]
    return status, reply


def new_openid(prefix: str = "o") -> str:
    return f"{prefix}{uuid.uuid4().hex[:20]}"
