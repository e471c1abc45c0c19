"""Reminders end to end on the running system (`kefu run` with its worker):
a Taobao trade event comes in, the buyer gets one 催付, asks the bot to stop,
and gets no more; a paid order is never chased."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from kefu.core.models import SHANGHAI
from tests.support.platforms import taobao_env
from tests.support.stack import start_stack, stop_stack, wait_for
from tests.support.taobao import new_buyer, new_tid, post, say, signed, texts_to, tmc_content
from tests.support.waiting import wait_until_quiet

pytestmark = pytest.mark.e2e  # starts its own stack

POLICY = """
orders:
  default:
    first_after_minutes: 1
    max_reminders: 1
    min_gap_minutes: 60
    quiet_hours: none   # the test may run at night
    templates:
      taobao: "亲，您在{shop}拍下的订单{order_id}（¥{amount}）还未付款哦，请尽快完成支付，谢谢您的支持！"
bills:
  default:
    max_reminders: 1
    min_gap_minutes: 60
    templates: {}
"""


@pytest.fixture(scope="module")
def gateway():
    from tests.support.fake_top_api import FakeTopAPI

    return FakeTopAPI("top-secret").start()


@pytest.fixture(scope="module")
def running(tmp_path_factory, gateway):
    tmp = tmp_path_factory.mktemp("reminders-stack")
    (tmp / "policy.yml").write_text(POLICY, encoding="utf-8")
    stack = start_stack(
        tmp,
        {
            **taobao_env(gateway.url),
            "KEFU_REMINDER_POLICIES": str(tmp / "policy.yml"),
            "KEFU_REMINDER_INTERVAL_SECONDS": "0.5",
            "KEFU_REMINDER_PLAN_SECONDS": "1",
            "KEFU_TMC_PULL": "0",
        },
    )
    yield stack
    stop_stack(stack)


def trade(stack, topic: str, tid: str, buyer: str, minutes_ago: int = 5) -> None:
    pub = (datetime.now(SHANGHAI) - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%d %H:%M:%S")
    import json

    status, body = post(
        stack,
        "taobao",
        "tmc",
        signed({"topic": topic, "content": json.dumps(tmc_content(tid, buyer), ensure_ascii=False), "pub_time": pub}),
    )
    assert status == 200, body


def outbox(stack) -> dict:
    """Reminder rows of the stack's orders: {order id: [status, ...]}."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from kefu.core.db import make_engine
    from kefu.core.models import Order, Reminder

    engine = make_engine(stack.database_url)
    try:
        with Session(engine) as session:
            rows = session.execute(
                select(Order.order_id, Reminder.status).join(
                    Reminder, (Reminder.subject_type == "order") & (Reminder.subject_id == Order.id)
                )
            ).all()
    finally:
        engine.dispose()
    found: dict = {}
    for order_id, status in rows:
        found.setdefault(order_id, []).append(status)
    return found


def test_one_reminder_then_the_buyer_says_stop_and_paid_orders_are_left_alone(running, gateway):
    chased, control, payer = new_buyer("chased"), new_buyer("control"), new_buyer("payer")
    first = new_tid()
    trade(running, "taobao_trade_TradeCreate", first, chased)
    paid = new_tid()
    trade(running, "taobao_trade_TradeCreate", paid, payer)
    trade(running, "taobao_trade_TradeBuyerPay", paid, payer)

    assert wait_for(lambda: texts_to(gateway, chased), timeout=60), running.log_path.read_text()[-3000:]
    [reminder] = texts_to(gateway, chased)
    assert first in reminder and "¥128.50" in reminder

    # The buyer answers the reminder in the chat: the bot records "stop".
    status, body = say(running, chased, "别催了，不要再发了")
    assert status == 200, body
    assert any("不会再发送" in t or "关闭" in t for t in texts_to(gateway, chased)[1:]), texts_to(gateway, chased)
    sent_before = len(texts_to(gateway, chased))

    # A new unpaid order of theirs is not chased; a control buyer's is.
    second, controlled = new_tid(), new_tid()
    trade(running, "taobao_trade_TradeCreate", second, chased)
    trade(running, "taobao_trade_TradeCreate", controlled, control)
    assert wait_for(lambda: texts_to(gateway, control), timeout=60)
    # The planning round that chased the control's order also saw the chased
    # buyer's (stored before it). Count once the outbox is quiet: nothing
    # pending, claimed or being sent, and no change over more than one
    # planning round (1 s) and worker round (0.5 s).
    open_states = {"pending", "claimed", "sending"}
    quiet = wait_until_quiet(
        lambda: (outbox(running), len(texts_to(gateway, chased)), len(texts_to(gateway, control))),
        idle=lambda snap: (
            snap[0].get(controlled) == ["sent"] and not any(open_states & set(states) for states in snap[0].values())
        ),
        settle=2.0,
        timeout=60,
        message="the reminder outbox is quiet",
    )
    assert second not in quiet[0], quiet[0]  # never planned: the buyer asked to stop
    assert len(texts_to(gateway, chased)) == sent_before
    assert texts_to(gateway, payer) == []
