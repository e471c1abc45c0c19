"""Every channel over HTTP without Rasa (fast tier): the channel's parsing,
signature checks, claims in the desk database and replies are its own; the
bot is a Recorder with canned answers (tests/support/channels.py)."""

from __future__ import annotations

import time
import urllib.parse
import uuid

import xmltodict

from tests.support.channels import Channels, Recorder, running_channels
from tests.support.platforms import (
    TAOBAO_APP_KEY,
    taobao_env,
)
from tests.support.stack import http, new_sender, wait_for
from tests.support.taobao import message, signed
from tests.support.taobao import post as taobao_post
from tests.support.wechat import post as wechat_post
from tests.support.wechat import sign, text_xml
from tests.support.wecom import CRYPTO as WECOM_CRYPTO
from tests.support.wecom import callback as wecom_callback
from tests.support.wecom import customer_text

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


def test_wechat_url_verification_needs_the_signature(channels: Channels):
    timestamp, nonce = str(int(time.time())), "n1"
    query = {
        "signature": sign(timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
        "echostr": "echo-42",
    }
    assert http("GET", f"{channels.rasa_url}/webhooks/wechat/webhook?{urllib.parse.urlencode(query)}") == (
        200,
        "echo-42",
    )
    forged = {**query, "signature": sign(timestamp, nonce, token="other")}
    assert http("GET", f"{channels.rasa_url}/webhooks/wechat/webhook?{urllib.parse.urlencode(forged)}")[0] == 403


def test_wechat_encrypted_message_gets_an_encrypted_reply_once(channels: Channels):
    openid = f"o{uuid.uuid4().hex[:12]}"
    channels.recorder.answer(f"wechat:{openid}", "您好，请问有什么可以帮您？")
    msg_id = uuid.uuid4().int % 10**18
    status, reply = wechat_post(channels, text_xml(openid, "你好", msg_id))
    assert status == 200, reply
    assert reply["ToUserName"] == openid and reply["MsgType"] == "text" and "您好" in reply["Content"]
    [message] = [m for m in channels.recorder.messages if m.sender_id == f"wechat:{openid}"]
    assert message.text == "你好" and message.message_id == f"wechat-{msg_id}"
    # WeChat retries a message it thinks unanswered: the claim makes it one turn.
    assert wechat_post(channels, text_xml(openid, "你好", msg_id)) == (200, "success")
    assert channels.recorder.texts_from(f"wechat:{openid}") == ["你好"]


def test_wechat_forged_message_never_reaches_the_bot(channels: Channels):
    openid = f"o{uuid.uuid4().hex[:12]}"
    status, _ = wechat_post(channels, text_xml(openid, "你好", 1), token="forged")
    assert status == 403 and channels.recorder.texts_from(f"wechat:{openid}") == []


# -- wecom --------------------------------------------------------------------------


def test_wecom_verification_decrypts_echostr_and_forgeries_are_refused(channels: Channels):
    url = f"{channels.rasa_url}/webhooks/wecom/webhook"
    ts, nonce = str(int(time.time())), "n1"
    encrypted = xmltodict.parse(WECOM_CRYPTO.encrypt_message("echo-4711", nonce, ts))["xml"]
    query = urllib.parse.urlencode(
        {"msg_signature": encrypted["MsgSignature"], "timestamp": ts, "nonce": nonce, "echostr": encrypted["Encrypt"]}
    )
    assert http("GET", f"{url}?{query}") == (200, "echo-4711")
    assert http("GET", f"{url}?{query.replace(encrypted['MsgSignature'], '0' * 40)}")[0] == 403
    body = WECOM_CRYPTO.encrypt_message("<xml><Event>kf_msg_or_event</Event></xml>", "n", ts)
    forged = urllib.parse.urlencode({"msg_signature": "0" * 40, "timestamp": ts, "nonce": "n"})
    assert http("POST", f"{url}?{forged}", raw=body.encode())[0] == 403
    assert http("POST", f"{url}?{forged}", raw=b"not xml")[0] == 400


def test_wecom_callback_syncs_and_answers_each_customer_message(channels: Channels, wechat_api):
    kf, customer = f"wk{uuid.uuid4().hex[:10]}", f"wm{uuid.uuid4().hex[:8]}"
    wechat_api.queue_kf(kf, customer_text(customer, "物业费在哪里交"))
    assert wecom_callback(channels, kf) == (200, "success")
    assert wait_for(lambda: wechat_api.kf_sent_to(customer), timeout=15)
    [sent] = wechat_api.kf_sent_to(customer)
    assert sent["open_kfid"] == kf and sent["text"]["content"] == channels.recorder.replies[0]
    assert [m.text for m in channels.recorder.messages if m.sender_id.endswith(customer)] == ["物业费在哪里交"]


# -- taobao / tmall -----------------------------------------------------------------


def test_taobao_signed_message_is_answered_through_the_gateway_once(channels: Channels, top_api):
    buyer = f"buyer{uuid.uuid4().hex[:10]}"
    bad_before = top_api.bad_signatures
    params = signed(message(buyer, "亲，在吗"))
    status, body = taobao_post(channels, "taobao", "webhook", params)
    assert status == 200 and body["success"] is True and body["replies"] == 1 and body["undelivered"] == 0, body
    [sent] = top_api.sent_to(buyer)
    assert sent["receivers"] == [buyer] and sent["content"] == channels.recorder.replies[0]
    assert sent["seller_nick"] == "好物小店" and sent["app_key"] == TAOBAO_APP_KEY
    assert top_api.bad_signatures == bad_before  # the gateway accepted the channel's own signature
    assert taobao_post(channels, "taobao", "webhook", params)[1].get("duplicate") is True
    assert channels.recorder.texts_from(f"taobao:{buyer}") == ["亲，在吗"] and len(top_api.sent_to(buyer)) == 1


def test_tmall_json_body_with_open_uid_is_its_own_customer(channels: Channels, top_api):
    open_uid = "AAH" + uuid.uuid4().hex[:20]
    params = signed(message(open_uid, "你好", buyer_field="buyer_open_uid"), "hmac")
    status, body = taobao_post(channels, "tmall", "webhook", params, as_json=True)
    assert status == 200, body
    assert channels.recorder.texts_from(f"tmall:{open_uid}") == ["你好"]
    assert channels.recorder.texts_from(f"taobao:{open_uid}") == []


def test_taobao_forged_or_unsigned_requests_are_403(channels: Channels):
    buyer = f"buyer{uuid.uuid4().hex[:10]}"
    assert taobao_post(channels, "taobao", "webhook", signed(message(buyer, "你好"), secret="guessed"))[0] == 403
    assert taobao_post(channels, "taobao", "webhook", message(buyer, "你好"))[0] == 403
    assert channels.recorder.texts_from(f"taobao:{buyer}") == []


def test_the_taobao_channel_closes_its_top_session_when_the_server_stops(tmp_path, top_api):
    """The TOP client keeps one HTTP session for the server's life; a server
    that stops closes it (before: "Unclosed client session" at every stop)."""
    with running_channels(f"sqlite:///{tmp_path / 'kefu.db'}", taobao_env(top_api.url), Recorder()) as running:
        taobao = next(c for c in running.inputs if c.name() == "taobao")
        session = running.run(taobao.api._client())
        assert not session.closed
    assert session.closed
