"""Every channel over HTTP without Rasa (fast tier): the channel's parsing,
signature checks, claims in the desk database and replies are its own; the
bot is a Recorder with canned answers (tests/support/channels.py)."""

from __future__ import annotations

import json
import time
import urllib.parse
import uuid

import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

from kefu.clients.top_api import top_timestamp
from kefu.clients.top_sign import top_sign
from tests.support.channels import Channels, Recorder, running_channels
from tests.support.platforms import (
    TAOBAO_APP_KEY,
    TAOBAO_APP_SECRET,
    WECHAT_AES_KEY,
    WECHAT_APPID,
    WECHAT_TOKEN,
    WECOM_AES_KEY,
    WECOM_CORPID,
    WECOM_TOKEN,
    taobao_env,
)
from tests.support.stack import http, new_sender, wait_for

# -- rest -------------------------------------------------------------------------


def rest(channels: Channels, body=None, raw: bytes | None = None, headers: dict[str, str] | None = None):
    return http("POST", f"{channels.rasa_url}/webhooks/rest/webhook", body, raw=raw, headers=headers)


def test_rest_message_reaches_the_bot_and_its_texts_come_back(channels: Channels):
    sender = new_sender("rest")
    channels.recorder.answer(sender, "您好，这里是物业客服。", "请问有什么可以帮您？")
    status, replies = rest(channels, {"sender": sender, "message": "你好", "metadata": {"page": "a"}})
    assert status == 200
    assert replies == [
        {"recipient_id": sender, "text": "您好，这里是物业客服。"},
        {"recipient_id": sender, "text": "请问有什么可以帮您？"},
    ]
    [message] = [m for m in channels.recorder.messages if m.sender_id == sender]
    assert (message.text, message.input_channel, message.metadata) == ("你好", "rest", {"page": "a"})


def test_rest_refuses_bad_input_before_the_bot(channels: Channels):
    sender = new_sender("rest")
    status, replies = rest(channels, {"sender": sender, "message": "   "})
    assert status == 200 and replies[0]["recipient_id"] == sender and replies[0]["text"]  # a polite prompt
    assert rest(channels, raw=b"{oops")[0] == 400
    assert rest(channels, {"message": "你好"})[0] == 400
    assert rest(channels, {"sender": sender, "message": 5})[0] == 400
    assert rest(channels, {"sender": f"web-{uuid.uuid4().hex}", "message": "你好"})[0] == 400  # the widget's ids
    assert rest(channels, {"sender": "wechat:oX", "message": "你好"})[0] == 400  # a platform customer
    assert rest(channels, {"sender": sender, "message": "啊" * 100_000})[0] == 413
    assert channels.recorder.texts_from(sender) == []


def test_rest_bot_texts_pass_the_advertising_law_check(channels: Channels):
    sender = new_sender("rest")
    channels.recorder.answer(sender, "本店物业服务全网最低价。")
    status, replies = rest(channels, {"sender": sender, "message": "价格怎么样"})
    assert status == 200 and "最低价" not in replies[0]["text"]


# -- wechat -------------------------------------------------------------------------

WECHAT = WeChatCrypto(WECHAT_TOKEN, WECHAT_AES_KEY, WECHAT_APPID)


def wechat_signature(timestamp: str, nonce: str, token: str = WECHAT_TOKEN) -> str:
    signer = WeChatSigner()
    signer.add_data(token, timestamp, nonce)
    return signer.signature


def wechat_text(openid: str, text: str, msg_id: int) -> str:
    return (
        f"<xml><ToUserName><![CDATA[gh_kefu]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{text}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )


def wechat_post(channels: Channels, xml: str, token: str = WECHAT_TOKEN):
    """Encrypted (safe mode) as WeChat posts it; (status, decrypted reply or text)."""
    timestamp, nonce = str(int(time.time())), uuid.uuid4().hex[:8]
    encrypted = WECHAT.encrypt_message(xml, nonce, timestamp)
    query = urllib.parse.urlencode(
        {
            "signature": wechat_signature(timestamp, nonce, token),
            "timestamp": timestamp,
            "nonce": nonce,
            "encrypt_type": "aes",
            "msg_signature": xmltodict.parse(encrypted)["xml"]["MsgSignature"],
        }
    )
    status, reply = http(
        "POST",
        f"{channels.rasa_url}/webhooks/wechat/webhook?{query}",
        raw=encrypted.encode(),
        headers={"Content-Type": "text/xml"},
    )
    if status == 200 and isinstance(reply, str) and reply.startswith("<xml>"):
        outer = xmltodict.parse(reply)["xml"]
        reply = xmltodict.parse(
            WECHAT.decrypt_message(reply, outer["MsgSignature"], outer["TimeStamp"], outer["Nonce"])
        )["xml"]
    return status, reply


def test_wechat_url_verification_needs_the_signature(channels: Channels):
    timestamp, nonce = str(int(time.time())), "n1"
    query = {
        "signature": wechat_signature(timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
        "echostr": "echo-42",
    }
    assert http("GET", f"{channels.rasa_url}/webhooks/wechat/webhook?{urllib.parse.urlencode(query)}") == (
        200,
        "echo-42",
    )
    forged = {**query, "signature": wechat_signature(timestamp, nonce, token="other")}
    assert http("GET", f"{channels.rasa_url}/webhooks/wechat/webhook?{urllib.parse.urlencode(forged)}")[0] == 403


def test_wechat_encrypted_message_gets_an_encrypted_reply_once(channels: Channels):
    openid = f"o{uuid.uuid4().hex[:12]}"
    channels.recorder.answer(f"wechat:{openid}", "您好，请问有什么可以帮您？")
    msg_id = uuid.uuid4().int % 10**18
    status, reply = wechat_post(channels, wechat_text(openid, "你好", msg_id))
    assert status == 200, reply
    assert reply["ToUserName"] == openid and reply["MsgType"] == "text" and "您好" in reply["Content"]
    [message] = [m for m in channels.recorder.messages if m.sender_id == f"wechat:{openid}"]
    assert message.text == "你好" and message.message_id == f"wechat-{msg_id}"
    # WeChat retries a message it thinks unanswered: the claim makes it one turn.
    assert wechat_post(channels, wechat_text(openid, "你好", msg_id)) == (200, "success")
    assert channels.recorder.texts_from(f"wechat:{openid}") == ["你好"]


def test_wechat_forged_message_never_reaches_the_bot(channels: Channels):
    openid = f"o{uuid.uuid4().hex[:12]}"
    status, _ = wechat_post(channels, wechat_text(openid, "你好", 1), token="forged")
    assert status == 403 and channels.recorder.texts_from(f"wechat:{openid}") == []


# -- wecom --------------------------------------------------------------------------

WECOM = WeChatCrypto(WECOM_TOKEN, WECOM_AES_KEY, WECOM_CORPID)


def test_wecom_verification_decrypts_echostr_and_forgeries_are_refused(channels: Channels):
    url = f"{channels.rasa_url}/webhooks/wecom/webhook"
    ts, nonce = str(int(time.time())), "n1"
    encrypted = xmltodict.parse(WECOM.encrypt_message("echo-4711", nonce, ts))["xml"]
    query = urllib.parse.urlencode(
        {"msg_signature": encrypted["MsgSignature"], "timestamp": ts, "nonce": nonce, "echostr": encrypted["Encrypt"]}
    )
    assert http("GET", f"{url}?{query}") == (200, "echo-4711")
    assert http("GET", f"{url}?{query.replace(encrypted['MsgSignature'], '0' * 40)}")[0] == 403
    body = WECOM.encrypt_message("<xml><Event>kf_msg_or_event</Event></xml>", "n", ts)
    forged = urllib.parse.urlencode({"msg_signature": "0" * 40, "timestamp": ts, "nonce": "n"})
    assert http("POST", f"{url}?{forged}", raw=body.encode())[0] == 403
    assert http("POST", f"{url}?{forged}", raw=b"not xml")[0] == 400


def test_wecom_callback_syncs_and_answers_each_customer_message(channels: Channels, wechat_api):
    kf, customer = f"wk{uuid.uuid4().hex[:10]}", f"wm{uuid.uuid4().hex[:8]}"
    wechat_api.queue_kf(
        kf,
        {
            "msgid": uuid.uuid4().hex,
            "external_userid": customer,
            "send_time": int(time.time()),
            "origin": 3,
            "msgtype": "text",
            "text": {"content": "物业费在哪里交"},
        },
    )
    ts, nonce = str(int(time.time())), uuid.uuid4().hex[:8]
    xml = (
        f"<xml><ToUserName><![CDATA[{WECOM_CORPID}]]></ToUserName><CreateTime>{ts}</CreateTime>"
        f"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event>"
        f"<Token><![CDATA[cbtoken]]></Token><OpenKfId><![CDATA[{kf}]]></OpenKfId></xml>"
    )
    encrypted = WECOM.encrypt_message(xml, nonce, ts)
    query = urllib.parse.urlencode(
        {"msg_signature": xmltodict.parse(encrypted)["xml"]["MsgSignature"], "timestamp": ts, "nonce": nonce}
    )
    assert http("POST", f"{channels.rasa_url}/webhooks/wecom/webhook?{query}", raw=encrypted.encode()) == (
        200,
        "success",
    )
    assert wait_for(lambda: wechat_api.kf_sent_to(customer), timeout=15)
    [sent] = wechat_api.kf_sent_to(customer)
    assert sent["open_kfid"] == kf and sent["text"]["content"] == channels.recorder.replies[0]
    assert [m.text for m in channels.recorder.messages if m.sender_id.endswith(customer)] == ["物业费在哪里交"]


# -- taobao / tmall -----------------------------------------------------------------


def top_signed(params: dict[str, str], method: str = "md5", secret: str = TAOBAO_APP_SECRET) -> dict[str, str]:
    body = {"app_key": TAOBAO_APP_KEY, "timestamp": top_timestamp(), "sign_method": method, **params}
    body["sign"] = top_sign(body, secret, method)
    return body


def top_message(buyer: str, text: str, buyer_field: str = "buyer_nick") -> dict[str, str]:
    return {
        buyer_field: buyer,
        "seller_nick": "好物小店",
        "content": text,
        "msg_id": str(uuid.uuid4().int % 10**18),
        "msg_time": top_timestamp(),
    }


def top_post(channels: Channels, channel: str, params: dict[str, str], as_json: bool = False):
    raw = (json.dumps(params, ensure_ascii=False) if as_json else urllib.parse.urlencode(params)).encode()
    return http(
        "POST",
        f"{channels.rasa_url}/webhooks/{channel}/webhook",
        raw=raw,
        headers={"Content-Type": "application/json" if as_json else "application/x-www-form-urlencoded"},
    )


def test_taobao_signed_message_is_answered_through_the_gateway_once(channels: Channels, top_api):
    buyer = f"buyer{uuid.uuid4().hex[:10]}"
    bad_before = top_api.bad_signatures
    params = top_signed(top_message(buyer, "亲，在吗"))
    status, body = top_post(channels, "taobao", params)
    assert status == 200 and body["success"] is True and body["replies"] == 1 and body["undelivered"] == 0, body
    [sent] = top_api.sent_to(buyer)
    assert sent["receivers"] == [buyer] and sent["content"] == channels.recorder.replies[0]
    assert sent["seller_nick"] == "好物小店" and sent["app_key"] == TAOBAO_APP_KEY
    assert top_api.bad_signatures == bad_before  # the gateway accepted the channel's own signature
    assert top_post(channels, "taobao", params)[1].get("duplicate") is True
    assert channels.recorder.texts_from(f"taobao:{buyer}") == ["亲，在吗"] and len(top_api.sent_to(buyer)) == 1


def test_tmall_json_body_with_open_uid_is_its_own_customer(channels: Channels, top_api):
    open_uid = "AAH" + uuid.uuid4().hex[:20]
    status, body = top_post(
        channels, "tmall", top_signed(top_message(open_uid, "你好", "buyer_open_uid"), "hmac"), as_json=True
    )
    assert status == 200, body
    assert channels.recorder.texts_from(f"tmall:{open_uid}") == ["你好"]
    assert channels.recorder.texts_from(f"taobao:{open_uid}") == []


def test_taobao_forged_or_unsigned_requests_are_403(channels: Channels):
    buyer = f"buyer{uuid.uuid4().hex[:10]}"
    assert top_post(channels, "taobao", top_signed(top_message(buyer, "你好"), secret="guessed"))[0] == 403
    assert top_post(channels, "taobao", top_message(buyer, "你好"))[0] == 403
    assert channels.recorder.texts_from(f"taobao:{buyer}") == []


def test_the_taobao_channel_closes_its_top_session_when_the_server_stops(tmp_path, top_api):
    """The TOP client keeps one HTTP session for the server's life; a server
    that stops closes it (before: "Unclosed client session" at every stop)."""
    with running_channels(f"sqlite:///{tmp_path / 'kefu.db'}", taobao_env(top_api.url), Recorder()) as running:
        taobao = next(c for c in running.inputs if c.name() == "taobao")
        session = running.run(taobao.api._client())
        assert not session.closed
    assert session.closed
