"""A WeCom 微信客服 account's side of the channel: callbacks encrypted with
wechatpy's enterprise crypto, and the customer messages the kf API returns."""

from __future__ import annotations

import time
import urllib.parse
import uuid
from typing import Any

import xmltodict
from wechatpy.enterprise.crypto import WeChatCrypto

from tests.support.platforms import WECOM_AES_KEY, WECOM_CORPID, WECOM_TOKEN
from tests.support.scaled_stack import http

CRYPTO = WeChatCrypto(WECOM_TOKEN, WECOM_AES_KEY, WECOM_CORPID)


def url(stack: Any) -> str:
    return f"{stack.rasa_url}/webhooks/wecom/webhook"


def callback(stack: Any, open_kfid: str, token: str = "cbtoken") -> tuple:
    ts, nonce = str(int(time.time())), uuid.uuid4().hex[:8]
    xml = (
        f"<xml><ToUserName><![CDATA[{WECOM_CORPID}]]></ToUserName><CreateTime>{ts}</CreateTime>"
        f"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event>"
        f"<Token><![CDATA[{token}]]></Token><OpenKfId><![CDATA[{open_kfid}]]></OpenKfId></xml>"
    )
    encrypted = CRYPTO.encrypt_message(xml, nonce, ts)
    signature = xmltodict.parse(encrypted)["xml"]["MsgSignature"]
    query = urllib.parse.urlencode({"msg_signature": signature, "timestamp": ts, "nonce": nonce})
    return http("POST", f"{url(stack)}?{query}", raw=encrypted.encode())


def customer_text(external: str, text: str, origin: int = 3) -> dict:
    return {
        "msgid": uuid.uuid4().hex,
        "external_userid": external,
        "send_time": int(time.time()),
        "origin": origin,
        "msgtype": "text",
        "text": {"content": text},
    }
