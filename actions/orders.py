"""The buyer's own Taobao/Tmall orders, for order and payment questions.

Only orders whose buyer is the customer of this conversation are ever shown:
an order id the customer names that is not theirs reads exactly like an
unknown one, so nobody can probe other buyers' orders.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import followup
from actions.complaint import register_complaint
from actions.knowledge import settle_kb_reply
from actions.outage import polite_on_outage
from actions.store import in_db
from actions.survey import survey_reply
from actions.turn import Turn, current_turn
from kefu.core.orders import orders_of

SHOP_CHANNELS = ("taobao", "tmall")
ORDER_WORDS = ("订单", "付款", "发货", "物流", "快递", "待付款", "支付", "多少钱", "金额")
MAX_LISTED = 3
HOW_TO_PAY = "请在淘宝App「我的淘宝-已买到的宝贝-待付款」中找到该订单完成付款"


def is_order_question(turn: Turn) -> bool:
    return turn.channel in SHOP_CHANNELS and (bool(turn.order_id) or any(word in turn.text for word in ORDER_WORDS))


def yuan(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def describe(order) -> str:
    shop = f"（{order.shop}）" if order.shop else ""
    if order.status == "unpaid":
        amount = f"，待付金额 {yuan(order.amount_cents)} 元" if order.amount_cents is not None else ""
        return f"订单 {order.order_id}{shop}还未付款{amount}。{HOW_TO_PAY}，超时未付订单会自动关闭哦。"
    if order.status == "paid":
        return f"订单 {order.order_id}{shop}已付款，商家会尽快为您发货，发货后可在订单详情中查看物流。"
    return f"订单 {order.order_id}{shop}已关闭，如仍需要，请您重新下单。"


async def order_answer(turn: Turn) -> str | None:
    """The answer about the customer's orders, or None when there is nothing
    of theirs to talk about (the caller answers as on any other channel)."""
    if turn.channel not in SHOP_CHANNELS:
        return None
    buyer = turn.customer_id.split(":", 1)[1] if ":" in turn.customer_id else turn.customer_id
    orders = await in_db(orders_of, turn.channel, buyer)
    if turn.order_id:
        mine = [o for o in orders if o.order_id == turn.order_id]
        if not mine:
            return (
                f"您好，在您的账号下没有查到订单 {turn.order_id}，请您核对一下订单号，"
                "或在「我的淘宝-已买到的宝贝」中查看。如需帮助，请回复“转人工”，谢谢！"
            )
        return "您好，" + describe(mine[0])
    if not orders:
        return None
    # Unpaid first: that is what a buyer asking about paying needs.
    listed: list = sorted(orders, key=lambda o: o.status != "unpaid")[:MAX_LISTED]
    lines = "\n".join(describe(o) for o in listed)
    return f"您好，为您查到账号下的订单：\n{lines}\n如有其他问题，随时告诉我。"


class ActionAcknowledge(Action):
    """A bare piece of information, yes or no outside a form. It may answer a
    satisfaction survey ("5", "满意"); on a shop chat a lone order number
    means "what about this order?", so it gets that order's status."""

    def name(self) -> str:
        return "action_acknowledge"

    @polite_on_outage
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain) -> list[dict[str, Any]]:
        # 解决了/没解决 or "2" right after the knowledge base spoke (actions/knowledge.py).
        settled = await settle_kb_reply(dispatcher, tracker)
        if settled is not None:
            return settled
        turn = current_turn(tracker)
        # 是/不是 to "是关于工单…的补充吗？" (actions/followup.py).
        answered, events = await followup.settle(dispatcher, tracker, turn, register_complaint)
        if answered:
            return events
        answer = await survey_reply(turn)
        if answer is None and turn.order_id and turn.channel in SHOP_CHANNELS:
            answer = await order_answer(turn)
        if answer is None and turn.intent == "inform":
            # A detail (room, phone …) right after reporting: it belongs to the open ticket.
            answer = await followup.add_detail(turn)
        if answer is not None:
            dispatcher.utter_message(text=answer)
        elif turn.intent == "acknowledge":  # an emoji, a sticker, "哦"
            dispatcher.utter_message(response="utter_acknowledge")
        else:
            dispatcher.utter_message(response="utter_ack")
        return events
