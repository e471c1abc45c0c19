"""Taobao/Tmall channel, driven as the platform relay and TMC would drive it.

Inbound requests are signed here with kefu.clients.top_sign (tested against the
published vector); replies are checked at the fake TOP gateway, which
verifies the channel's own signatures.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest

from kefu.clients.top_api import TopAPI, TopConfig, top_timestamp
from kefu.core.db import ThreadedSessions, upgrade
from kefu.core.models import SHANGHAI
from tests.support.platforms import TAOBAO_APP_KEY, TAOBAO_APP_SECRET
from tests.support.stack import Stack, auth, http, wait_for
from tests.support.taobao import (
    message,
    new_buyer,
    new_tid,
    post,
    say,
    signed,
    stored_orders,
    texts_to,
    tmc_content,
    user_events,
)

# -- buyer messages -------------------------------------------------------------


def test_signed_message_is_answered_through_the_gateway(stack: Stack, top_api):
    buyer = new_buyer()
    bad_before = top_api.bad_signatures
    status, body = say(stack, buyer, "亲，在吗", msg_id="1001" + uuid.uuid4().hex[:8])
    assert status == 200, body
    assert body["success"] is True and body["replies"] >= 1 and body["undelivered"] == 0
    [sent] = top_api.sent_to(buyer)
    assert sent["receivers"] == [buyer] and "您好" in sent["content"]
    assert sent["seller_nick"] == "好物小店" and sent["app_key"] == TAOBAO_APP_KEY
    assert top_api.bad_signatures == bad_before  # the gateway accepted the channel's signature
    [user] = user_events(stack, f"taobao:{buyer}")
    assert user["text"] == "亲，在吗" and user["input_channel"] == "taobao"
    assert user["message_id"].startswith("taobao-1001")


def test_tmall_route_json_body_and_open_uid(stack: Stack, top_api):
    open_uid = "AAH" + uuid.uuid4().hex[:20]
    params = signed(message(open_uid, "你好", buyer_field="buyer_open_uid"), method="hmac")
    status, body = post(stack, "tmall", "webhook", params, as_json=True)
    assert status == 200, body
    assert "您好" in texts_to(top_api, open_uid)[0]
    assert [e["text"] for e in user_events(stack, f"tmall:{open_uid}")] == ["你好"]
    assert user_events(stack, f"taobao:{open_uid}") == []


def test_empty_text_gets_a_polite_prompt_without_a_bot_turn(stack: Stack, top_api):
    buyer = new_buyer()
    status, _ = say(stack, buyer, "   ")
    assert status == 200
    assert texts_to(top_api, buyer) == ["您好，没有收到您的文字内容，请问有什么可以帮您？"]
    assert user_events(stack, f"taobao:{buyer}") == []


@pytest.mark.parametrize(
    "case",
    [
        "wrong_signature",
        "wrong_app_key",
        "stale_timestamp",
        "future_timestamp",
        "unsigned",
        "broken_body",
        "json_list",
        "missing_msg_id",
        "missing_buyer",
        "too_big",
    ],
)
def test_bad_input_is_refused_without_reaching_the_bot(stack: Stack, top_api, case: str):
    buyer = new_buyer()
    good = message(buyer, "你好")
    old = (datetime.now(SHANGHAI) - timedelta(minutes=11)).strftime("%Y-%m-%d %H:%M:%S")
    ahead = (datetime.now(SHANGHAI) + timedelta(minutes=11)).strftime("%Y-%m-%d %H:%M:%S")
    requests = {
        "wrong_signature": (403, dict(params=signed(good, secret="not-the-secret"))),
        "wrong_app_key": (403, dict(params=signed(good, app_key="99999999"))),
        "stale_timestamp": (403, dict(params=signed(good, timestamp=old))),
        "future_timestamp": (403, dict(params=signed(good, timestamp=ahead))),
        "unsigned": (403, dict(params={"app_key": TAOBAO_APP_KEY, "timestamp": top_timestamp(), **good})),
        "broken_body": (400, dict(raw=b"this is not a form")),
        "json_list": (400, dict(raw=b'[{"buyer_nick": "x"}]', as_json=True)),
        "missing_msg_id": (400, dict(params=signed({k: v for k, v in good.items() if k != "msg_id"}))),
        "missing_buyer": (400, dict(params=signed({k: v for k, v in good.items() if k != "buyer_nick"}))),
        "too_big": (413, dict(params=signed({**good, "content": "你" * 400_000}))),
    }
    expected, kwargs = requests[case]
    status, body = post(stack, "taobao", "webhook", **kwargs)
    assert status == expected, body
    assert isinstance(body, dict) and body["error"]
    assert user_events(stack, f"taobao:{buyer}") == []
    assert top_api.sent_to(buyer) == []


def test_duplicate_message_id_is_processed_once(stack: Stack, top_api):
    buyer = new_buyer()
    params = signed(message(buyer, "你好"))
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda _: post(stack, "taobao", "webhook", params), range(3)))
    # One answers; the others, arriving while it does, are "duplicate" or,
    # if it is still being answered, a 503 so the platform retries later
    # (not dropped: that server might die before answering).
    answered = [body for status, body in results if status == 200 and not body.get("duplicate")]
    assert len(answered) == 1, results
    assert all(status == 503 or body.get("duplicate") for status, body in results if body not in answered)
    assert post(stack, "taobao", "webhook", params)[1].get("duplicate") is True
    assert len(top_api.sent_to(buyer)) == 1
    assert len(user_events(stack, f"taobao:{buyer}")) == 1
    # replayed to the other route (same platform, same message ids): still a duplicate
    assert post(stack, "tmall", "webhook", params)[1].get("duplicate") is True
    assert user_events(stack, f"tmall:{buyer}") == []


def test_refused_reply_is_kept_for_the_desk(stack: Stack, top_api, agent_token: str):
    buyer = new_buyer("refuse-")
    status, body = say(stack, buyer, "你好")
    assert status == 200 and body["undelivered"] >= 1
    status, body = http(
        "GET", f"{stack.desk_url}/api/undelivered?customer_id=taobao:{buyer}", headers=auth(agent_token)
    )
    assert status == 200 and body["undelivered"]
    assert "isv.buyer-refused" in body["undelivered"][0]["error"]
    assert "您好" in body["undelivered"][0]["text"]


# -- advertising law and handoff ------------------------------------------------


def test_bot_text_is_checked_for_ad_law_words(stack: Stack, top_api):
    """A bot text sent through the channel's output (as Rasa sends any bot
    event) passes the channel's own check, not only the desk's."""
    buyer = new_buyer()
    assert say(stack, buyer, "你好")[0] == 200
    status, _ = stack.rasa_api(
        "POST",
        f"/conversations/taobao:{buyer}/tracker/events?output_channel=taobao&execute_side_effects=true",
        [{"event": "bot", "text": "您好，这款是全网最低价，绝对正品"}],
    )
    assert status == 200
    assert wait_for(lambda: len(top_api.sent_to(buyer)) == 2)
    assert texts_to(top_api, buyer)[1] == "您好，这款是优惠价，确实正品"


def test_handoff_silence_and_agent_reply_reach_the_buyer(stack: Stack, top_api, agent_token: str):
    buyer = new_buyer()
    assert say(stack, buyer, "转人工", channel="tmall")[0] == 200
    assert "转接人工" in texts_to(top_api, buyer)[0]
    told = len(top_api.sent_to(buyer))  # the handoff, and where the buyer stands
    status, body = say(stack, buyer, "你好", channel="tmall")
    assert status == 200 and body["replies"] == 0  # paused: the bot is silent
    # Only the waiting room speaks: the message is kept for the agent.
    assert wait_for(lambda: len(top_api.sent_to(buyer)) == told + 1)
    assert "已收到" in texts_to(top_api, buyer)[told]
    status, body = http("GET", f"{stack.desk_url}/api/conversations?status=waiting", headers=auth(agent_token))
    [conv] = [c for c in body["conversations"] if c["customer_id"] == f"tmall:{buyer}"]
    status, body = http(
        "POST",
        f"{stack.desk_url}/api/conversations/{conv['id']}/reply",
        {"text": "您好，我是客服小李，这是我们最好的款式。"},
        headers=auth(agent_token),
    )
    assert status == 200, body
    assert wait_for(lambda: len(top_api.sent_to(buyer)) == told + 2)
    assert texts_to(top_api, buyer)[told + 1] == "您好，我是客服小李，这是我们很好的款式。"


# -- order events ---------------------------------------------------------------


def test_tmc_push_creates_and_updates_an_order(stack: Stack):
    buyer, tid = new_buyer(), new_tid()
    create = {
        "topic": "taobao_trade_TradeCreate",
        "pub_time": "2026-11-27 10:00:00",
        "msg_id": "9001",
        "content": json.dumps(tmc_content(tid, buyer), ensure_ascii=False),
    }
    status, body = post(stack, "taobao", "tmc", signed(create))
    assert (status, body["status"], body["order_id"]) == (200, "unpaid", tid), body
    assert stored_orders(stack.database_url, "taobao", buyer) == [(tid, "unpaid", 12850)]
    status, body = post(stack, "tmall", "tmc", signed({**create, "topic": "taobao_trade_TradeBuyerPay"}), as_json=True)
    assert status == 200 and body["status"] == "paid"
    assert post(stack, "taobao", "tmc", signed(create))[1]["status"] == "paid"  # late repeat
    assert stored_orders(stack.database_url, "taobao", buyer) == [(tid, "paid", 12850)]

    status, body = post(stack, "taobao", "tmc", signed({**create, "topic": "taobao_refund_RefundCreate"}))
    assert status == 400 and "topic" in body["error"]
    status, body = post(stack, "taobao", "tmc", signed({**create, "content": "not json"}))
    assert status == 400 and "JSON" in body["error"]
    forged = {**create, "topic": "taobao_trade_TradeClose"}
    status, _ = post(stack, "taobao", "tmc", signed(forged, secret="forged"))
    assert status == 403
    assert stored_orders(stack.database_url, "taobao", buyer) == [(tid, "paid", 12850)]


@pytest.fixture()
def tmc_gateway():
    """A gateway of its own: the stack's reminder worker pulls TMC from the
    shared one and would take these messages first."""
    from tests.support.fake_top_api import FakeTopAPI

    return FakeTopAPI(TAOBAO_APP_SECRET).start()


def pull(gateway, database_url: str) -> int:
    from connectors.tmc_pull import pull_once

    async def run() -> int:
        api = TopAPI(TopConfig(TAOBAO_APP_KEY, TAOBAO_APP_SECRET, "test-session", api_base=gateway.url))
        sessions = ThreadedSessions(database_url)
        try:
            return await pull_once(api, sessions, group_name="kefu", quantity=50)
        finally:
            await api.close()
            sessions.dispose()

    return asyncio.run(run())


def test_pull_applies_and_confirms_only_what_was_committed(tmc_gateway, tmp_path):
    url = f"sqlite:///{tmp_path / 'kefu.core.db'}"
    upgrade(url)
    buyer, first, second = new_buyer(), new_tid(), new_tid()
    good = [
        tmc_gateway.push_tmc("taobao_trade_TradeCreate", tmc_content(first, buyer)),
        tmc_gateway.push_tmc("taobao_trade_TradeCreate", tmc_content(second, buyer, "9.90")),
    ]
    bad = tmc_gateway.push_tmc("taobao_trade_TradeCreate", {"tid": "not-a-number"})

    # A database without the schema: nothing committed, so no order is confirmed.
    assert pull(tmc_gateway, f"sqlite:///{tmp_path / 'unmigrated.db'}") == 0
    assert tmc_gateway.tmc_confirmed == [bad]  # the bad one never blocks the queue
    assert [m["id"] for m in tmc_gateway.tmc_queue] == good

    assert pull(tmc_gateway, url) == 2
    assert tmc_gateway.tmc_queue == [] and sorted(tmc_gateway.tmc_confirmed) == sorted(good + [bad])
    assert stored_orders(url, "taobao", buyer) == sorted([(first, "unpaid", 12850), (second, "unpaid", 990)])
    assert pull(tmc_gateway, url) == 0  # nothing left
    assert tmc_gateway.tmc_consumes == 3 and tmc_gateway.bad_signatures == 0


def test_pull_in_any_order_and_again_is_idempotent(tmc_gateway, tmp_path):
    url = f"sqlite:///{tmp_path / 'kefu.core.db'}"
    upgrade(url)
    tid, buyer = new_tid(), new_buyer()
    tmc_gateway.push_tmc("tmall_trade_TradeBuyerPay", tmc_content(tid, buyer))
    tmc_gateway.push_tmc("tmall_trade_TradeCreate", tmc_content(tid, buyer))
    assert pull(tmc_gateway, url) == 2
    tmc_gateway.push_tmc("tmall_trade_TradeCreate", tmc_content(tid, buyer))  # redelivered
    assert pull(tmc_gateway, url) == 1
    assert stored_orders(url, "tmall", buyer) == [(tid, "paid", 12850)]


# -- the bot answers with the buyer's own orders ----------------------------------


def test_order_question_shows_own_unpaid_order_only(stack: Stack, top_api):
    me, other = new_buyer("me"), new_buyer("other")
    mine, theirs = new_tid(), new_tid()
    for tid, buyer, amount in ((mine, me, "128.50"), (theirs, other, "66.00")):
        status, _ = post(
            stack,
            "taobao",
            "tmc",
            signed(
                {
                    "topic": "taobao_trade_TradeCreate",
                    "pub_time": top_timestamp(),
                    "content": json.dumps(tmc_content(tid, buyer, amount), ensure_ascii=False),
                }
            ),
        )
        assert status == 200

    assert say(stack, me, "我的订单还没付款，要付多少钱")[0] == 200
    [answer] = texts_to(top_api, me)
    assert mine in answer and "128.50" in answer and "已买到的宝贝-待付款" in answer
    assert theirs not in answer and "66.00" not in answer

    assert say(stack, me, f"订单{theirs}付款了吗")[0] == 200
    answer = texts_to(top_api, me)[-1]
    assert "没有查到" in answer and "66.00" not in answer and other not in answer

    # the other buyer sees only theirs; one Taobao account is the same buyer on
    # the tmall channel (Tmall trades also arrive on taobao_trade topics)
    assert say(stack, other, "我的订单怎么付款")[0] == 200
    answer = texts_to(top_api, other)[-1]
    assert theirs in answer and "66.00" in answer and mine not in answer
    assert say(stack, me, "我的订单怎么付款", channel="tmall")[0] == 200
    answer = texts_to(top_api, me)[-1]
    assert mine in answer and theirs not in answer


def test_a_lone_order_number_gets_that_orders_status(stack: Stack, top_api):
    me, other = new_buyer("lone"), new_buyer("lone-other")
    mine, theirs = new_tid(), new_tid()
    for tid, buyer in ((mine, me), (theirs, other)):
        status, _ = post(
            stack,
            "taobao",
            "tmc",
            signed(
                {
                    "topic": "taobao_trade_TradeCreate",
                    "pub_time": top_timestamp(),
                    "content": json.dumps(tmc_content(tid, buyer, "59.90"), ensure_ascii=False),
                }
            ),
        )
        assert status == 200
    assert say(stack, me, mine)[0] == 200
    answer = texts_to(top_api, me)[-1]
    assert mine in answer and "59.90" in answer and "待付款" in answer
    assert say(stack, me, theirs)[0] == 200
    answer = texts_to(top_api, me)[-1]
    assert "没有查到" in answer and "59.90" not in answer
    # Whatever intent the NLU guesses for bare digits, a third one is still
    # answered, never handed off as "not understood twice".
    for _ in range(2):
        assert say(stack, me, mine)[0] == 200
        assert mine in texts_to(top_api, me)[-1]


# -- configuration ----------------------------------------------------------------


def test_unconfigured_channel_answers_503(tmp_path):
    """Empty TAOBAO_APP_KEY/SECRET: both routes refuse clearly, nothing is processed."""
    import socket

    import aiohttp
    from sanic import Sanic

    from connectors.taobao import TaobaoInput

    async def never(_message):
        raise AssertionError("an unconfigured channel must not reach the bot")

    async def run() -> list:
        app = Sanic(f"taobao503{uuid.uuid4().hex[:6]}")
        app.blueprint(TaobaoInput(TopConfig("", "", "")).blueprint(never), url_prefix="/webhooks/taobao")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
        await server.startup()
        results = []
        try:
            async with aiohttp.ClientSession() as client:
                for route in ("webhook", "tmc"):
                    async with client.post(
                        f"http://127.0.0.1:{port}/webhooks/taobao/{route}", data=signed(message("x", "你好"))
                    ) as resp:
                        results.append((resp.status, await resp.json()))
        finally:
            server.close()
            await server.wait_closed()
        return results

    for status, body in asyncio.run(run()):
        assert status == 503 and "TAOBAO_APP_KEY" in body["error"]


def test_credentials_register_both_channels(monkeypatch):
    from rasa.shared.utils.io import read_config_file

    from connectors.taobao import TaobaoInput, TmallInput
    from kefu.runtime.supervisor import CHANNEL_DEFAULTS
    from tests.support.stack import ROOT

    for name, value in {
        **CHANNEL_DEFAULTS,
        "TAOBAO_APP_KEY": "0123",
        "TAOBAO_APP_SECRET": "s",
        "TAOBAO_SESSION": "",
        "TAOBAO_API_BASE": "http://gw.invalid/router/rest",
        "TAOBAO_SIGN_METHOD": "hmac",
        "TAOBAO_CHAT_METHOD": "taobao.message.chatrobot.async",
    }.items():
        monkeypatch.setenv(name, value)
    credentials = read_config_file(ROOT / "bot" / "credentials.yml")
    taobao = TaobaoInput.from_credentials(credentials["connectors.taobao.TaobaoInput"])
    tmall = TmallInput.from_credentials(credentials["connectors.taobao.TmallInput"])
    assert (taobao.name(), tmall.name()) == ("taobao", "tmall")
    assert taobao.config.app_key == "0123" and taobao.config.sign_method == "hmac"  # a string, not YAML octal
    assert tmall.get_output_channel().name() == "tmall"
