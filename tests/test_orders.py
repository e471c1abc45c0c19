"""Trade events become orders idempotently, in any order, per buyer."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.orm import Session

from kefu.core.db import make_engine
from kefu.core.orders import BadTradeEvent, apply_event, orders_of, parse_tmc

TID = "3847261950384726153"


def tmc(topic: str, pub_time: str = "2026-11-27 10:00:00", **content) -> dict:
    base = {"tid": TID, "buyer_nick": "小明", "seller_nick": "好物小店", "payment": "128.50"}
    return {"topic": topic, "pub_time": pub_time, "content": json.dumps({**base, **content}, ensure_ascii=False)}


@pytest.fixture()
def session(migrated_database_url):
    engine = make_engine(migrated_database_url)
    with Session(engine, expire_on_commit=False) as s:
        yield s
    engine.dispose()


def test_create_pay_close_in_order(session):
    order = apply_event(session, parse_tmc(tmc("taobao_trade_TradeCreate")))
    assert (order.status, order.amount_cents, order.buyer, order.shop) == ("unpaid", 12850, "小明", "好物小店")
    # 10:00 in Shanghai is 02:00 UTC, also after a round trip through the database
    session.expire_all()
    from datetime import datetime, timezone

    assert order.created_at == datetime(2026, 11, 27, 2, 0, tzinfo=timezone.utc)
    assert order.created_at.tzinfo is not None
    order = apply_event(session, parse_tmc(tmc("taobao_trade_TradeBuyerPay", "2026-11-27 10:05:00")))
    assert order.status == "paid" and order.paid_at is not None
    order = apply_event(session, parse_tmc(tmc("taobao_trade_TradeClose", "2026-11-28 10:00:00")))
    assert order.status == "closed"
    assert len(orders_of(session, "taobao", "小明")) == 1


def test_late_and_repeated_events_never_move_backwards(session):
    apply_event(session, parse_tmc(tmc("tmall_trade_TradeBuyerPay")))
    order = apply_event(session, parse_tmc(tmc("tmall_trade_TradeCreate")))  # arrives late
    assert order.status == "paid" and order.created_at is not None
    order = apply_event(session, parse_tmc(tmc("tmall_trade_TradeBuyerPay")))  # repeated
    assert order.status == "paid"
    assert len(orders_of(session, "tmall", "小明")) == 1


def test_buyers_only_see_their_own_orders(session):
    apply_event(session, parse_tmc(tmc("taobao_trade_TradeCreate")))
    apply_event(session, parse_tmc(tmc("taobao_trade_TradeCreate", tid="3847261950384726154", buyer_nick="小红")))
    assert [o.order_id for o in orders_of(session, "taobao", "小红")] == ["3847261950384726154"]
    assert orders_of(session, "taobao", "小刚") == []
    # One Taobao account buys on both platforms: the tmall channel sees it too.
    assert [o.order_id for o in orders_of(session, "tmall", "小明")] == [TID]


@pytest.mark.parametrize(
    "message",
    [
        {"topic": "taobao_refund_RefundCreate", "content": "{}"},
        {"topic": "taobao_trade_TradeCreate", "content": "not json"},
        {"topic": "taobao_trade_TradeCreate", "content": json.dumps({"tid": "abc"})},
        {"topic": "taobao_trade_TradeCreate", "content": json.dumps({"tid": "1", "payment": "x"})},
        {"topic": "taobao_trade_TradeCreate", "content": "[1]"},
        {"topic": "taobao_trade_TradeCreate", "content": "null"},
        {"topic": "taobao_trade_TradeCreate", "content": json.dumps({"tid": "1", "payment": "NaN"})},
        {"topic": "taobao_trade_TradeCreate", "content": json.dumps({"tid": "1", "payment": "Infinity"})},
        {"topic": "taobao_trade_TradeCreate", "content": json.dumps({"tid": "1", "payment": "1e30"})},
        {"topic": "taobao_trade_TradeCreate", "content": json.dumps({"tid": "12²"})},
        {"topic": "taobao_trade_TradeCreate", "content": json.dumps({"tid": "9" * 40})},
    ],
)
def test_bad_events_are_refused_clearly(message):
    with pytest.raises(BadTradeEvent):
        parse_tmc(message)


def test_one_trade_on_both_topic_prefixes_is_one_order(session):
    apply_event(session, parse_tmc(tmc("tmall_trade_TradeCreate")))
    apply_event(session, parse_tmc(tmc("taobao_trade_TradeCreate")))
    order = apply_event(session, parse_tmc(tmc("taobao_trade_TradeBuyerPay")))
    assert order.status == "paid"
    assert [(o.order_id, o.status) for o in orders_of(session, "tmall", "小明")] == [(TID, "paid")]


def test_a_buyer_known_only_by_open_uid(session):
    message = {
        "topic": "taobao_trade_TradeCreate",
        "pub_time": "2026-11-27 10:00:00",
        "content": json.dumps(
            {"tid": "3847261950384726199", "buyer_open_uid": "AAHk5d-EAAeGwJedwSHpg8bT", "payment": "9.90"}
        ),
    }
    apply_event(session, parse_tmc(message))
    assert [o.amount_cents for o in orders_of(session, "taobao", "AAHk5d-EAAeGwJedwSHpg8bT")] == [990]
