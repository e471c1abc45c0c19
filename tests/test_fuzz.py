"""Property-based tests (hypothesis): no input crashes a parser or a signature
check, and nothing unverified reaches the bot. Function-level properties run
many examples; the HTTP ones hit the running channels on loopback."""

from __future__ import annotations

import json
import time
import urllib.parse
from datetime import datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.rest import BadRequest as RestBadRequest
from connectors.rest import parse_body
from connectors.taobao import BadRequest as TaobaoBadRequest
from connectors.taobao import check_message, check_signed, parse_params
from kefu.clients.top_sign import top_sign, verify_top_sign
from kefu.core.models import SHANGHAI
from kefu.core.orders import BadTradeEvent, parse_tmc
from kefu.core.surveys import parse_score
from kefu.text.entities import normalize_phone
from tests.support.platforms import TAOBAO_APP_KEY, TAOBAO_APP_SECRET, WECHAT_TOKEN
from tests.support.stack import Stack, http

HTTP_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
text_values = st.one_of(st.text(max_size=60), st.integers().map(str), st.sampled_from(["", "0", "null", "{}"]))
json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300) | json_like.map(lambda v: json.dumps(v).encode()))
def test_rest_body_parser_only_refuses_cleanly(raw):
    try:
        body = parse_body(raw)
    except RestBadRequest:
        return
    assert isinstance(body["sender"], str) and body["sender"].strip() and isinstance(body["message"], str)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300), st.sampled_from(["application/json", "application/x-www-form-urlencoded", ""]))
def test_taobao_params_parser_only_refuses_cleanly(raw, content_type):
    try:
        params = parse_params(raw, content_type)
    except TaobaoBadRequest as exc:
        assert exc.status in (400, 413)
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in params.items())


@settings(max_examples=400, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["app_key", "sign", "sign_method", "timestamp", "msg_id", "content", "x"]),
        text_values,
        max_size=7,
    )
)
def test_unsigned_or_forged_taobao_requests_are_403(params):
    try:
        check_signed(params, TAOBAO_APP_KEY, TAOBAO_APP_SECRET)
    except TaobaoBadRequest as exc:
        assert exc.status == 403
        return
    raise AssertionError(f"accepted without a valid signature: {params}")


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=10), text_values, max_size=6), st.sampled_from(["md5", "hmac", "hmac-sha256"]))
def test_a_valid_signature_is_accepted_and_any_change_is_refused(params, method):
    params = {k: v for k, v in params.items() if k not in ("sign", "sign_method")}
    params.update(sign_method=method)
    params["sign"] = top_sign(params, "secret", method)
    assert verify_top_sign(params, "secret")
    assert not verify_top_sign(
        {**params, "sign": params["sign"][:-1] + ("0" if params["sign"][-1] != "0" else "1")}, "secret"
    )
    assert not verify_top_sign(params, "other-secret")


@settings(max_examples=400, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["topic", "content", "pub_time", "x"]),
        st.one_of(text_values, json_like.map(json.dumps), json_like),
        max_size=4,
    )
)
def test_trade_events_parse_or_are_refused_clearly(message):
    try:
        event = parse_tmc(message)
    except BadTradeEvent:
        return
    assert event.order_id.isdigit() and event.status in ("unpaid", "paid", "closed")


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["msg_id", "content", "msg_time", "buyer_nick"]), text_values, max_size=4))
def test_message_fields_are_checked_without_crashing(params):
    try:
        check_message(params)
    except TaobaoBadRequest as exc:
        assert exc.status == 400


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=40))
def test_small_text_readers_never_crash(text):
    score = parse_score(text)
    assert score is None or 1 <= score <= 5
    phone = normalize_phone(text)
    assert phone is None or (len(phone) == 11 and phone.isdigit())


# -- through the running channels ---------------------------------------------------
@HTTP_SETTINGS
@given(raw=st.binary(max_size=400))
def test_rest_webhook_never_fails_on_junk(stack: Stack, raw):
    status, _ = http("POST", f"{stack.rasa_url}/webhooks/rest/webhook", raw=raw)
    assert status in (200, 400, 413), status


@HTTP_SETTINGS
@given(body=st.binary(max_size=400) | st.text(max_size=200).map(lambda t: f"<xml>{t}</xml>".encode()))
def test_wechat_webhook_with_a_valid_signature_never_fails_on_junk_xml(stack: Stack, body):
    from wechatpy.utils import WeChatSigner

    ts, nonce = str(int(time.time())), "fuzz"
    signer = WeChatSigner()
    signer.add_data(WECHAT_TOKEN, ts, nonce)
    query = urllib.parse.urlencode({"signature": signer.signature, "timestamp": ts, "nonce": nonce})
    status, _ = http(
        "POST", f"{stack.rasa_url}/webhooks/wechat/webhook?{query}", raw=body, headers={"Content-Type": "text/xml"}
    )
    assert status in (200, 400, 413), status


@HTTP_SETTINGS
@given(body=st.binary(max_size=300), signature=st.text(max_size=40))
def test_wecom_webhook_refuses_what_it_cannot_verify(stack: Stack, body, signature):
    query = urllib.parse.urlencode({"msg_signature": signature, "timestamp": str(int(time.time())), "nonce": "n"})
    status, _ = http(
        "POST", f"{stack.rasa_url}/webhooks/wecom/webhook?{query}", raw=body, headers={"Content-Type": "text/xml"}
    )
    assert status in (400, 403, 413), status


@HTTP_SETTINGS
@given(
    fields=st.dictionaries(
        st.sampled_from(
            ["msg_id", "content", "buyer_nick", "buyer_open_uid", "msg_time", "seller_nick", "topic", "pub_time"]
        ),
        text_values,
        max_size=6,
    ),
    route=st.sampled_from(["webhook", "tmc"]),
)
def test_taobao_signed_junk_is_refused_clearly_and_unsigned_never_passes(stack: Stack, fields, route):
    stamp = datetime.now(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
    unsigned = {"app_key": TAOBAO_APP_KEY, "timestamp": stamp, "sign_method": "md5", "sign": "0" * 32, **fields}
    status, _ = http(
        "POST",
        f"{stack.rasa_url}/webhooks/taobao/{route}",
        raw=urllib.parse.urlencode(unsigned).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 403, status
    signed = {"app_key": TAOBAO_APP_KEY, "timestamp": stamp, "sign_method": "md5", **fields}
    signed["sign"] = top_sign(signed, TAOBAO_APP_SECRET, "md5")
    status, _ = http(
        "POST",
        f"{stack.rasa_url}/webhooks/taobao/{route}",
        raw=urllib.parse.urlencode(signed).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status in (200, 400), status
