"""Payment matters: how to pay, and what the customer says about paying."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.faq import answer_by_id, best_answer, load_faq
from actions.knowledge import answer_with_feedback, kb_answer
from actions.orders import SHOP_CHANNELS, order_answer
from actions.outage import polite_on_outage
from actions.store import in_db
from actions.tickets import open_ticket, promise_text
from actions.turn import current_turn
from kefu.core.categories import default_categories
from kefu.core.facts import FactKind, record_fact
from kefu.core.tickets import ticket_number

PAYMENT_CATEGORY = "付款"

# What the customer tells us, detected by words; several may apply at once.
ALREADY_PAID = (
    "已经付",
    "已付",
    "付过",
    "付完",
    "已经交",
    "交过",
    "已交",
    "已缴",
    "缴过",
    "缴完",
    "已经支付",
    "已支付",
    "已经转",
    "转过",
    "付了款",
    "交了",
    "付了",
    "已经缴",
)
STOP = (
    "别催",
    "不要催",
    "不要再催",
    "别再催",
    "不要再发",
    "别再发",
    "别发了",
    "不要发了",
    "骚扰",
    "烦死",
    "退订",
    "取消提醒",
    "关闭提醒",
)
PAY_LATER = (
    "晚点",
    "晚几天",
    "晚些",
    "过几天",
    "过两天",
    "等几天",
    "下周",
    "下个月",
    "月底",
    "缓几天",
    "缓一缓",
    "延期",
    "宽限",
    "发工资",
    "明天再",
    "回头再",
    "稍后",
    "迟几天",
    "分期",
)
PROBLEM = (
    "失败",
    "扣了两次",
    "扣两次",
    "重复扣",
    "多扣",
    "扣了2次",
    "付不了",
    "付不上",
    "支付不了",
    "交不了",
    "缴不了",
    "被拒",
    "扣款了",
    "扣了钱",
    "扣钱了",
    "没到账",
    "显示未付",
    "还是未付",
    "报错",
    "付款异常",
    "error",
    "failed",
)


def has_any(text: str, words: tuple[str, ...]) -> bool:
    lowered = text.lower()
    return any(word.lower() in lowered for word in words)


def detect_facts(text: str) -> list[FactKind]:
    kinds = []
    if has_any(text, ALREADY_PAID):
        kinds.append(FactKind.already_paid)
    if has_any(text, STOP):
        kinds.append(FactKind.stop_reminders)
    if has_any(text, PAY_LATER) and FactKind.already_paid not in kinds:
        kinds.append(FactKind.pay_later)
    return kinds


class ActionHandlePayment(Action):
    def name(self) -> str:
        return "action_handle_payment"

    @polite_on_outage
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain) -> list[dict[str, Any]]:
        turn = current_turn(tracker)
        kinds = detect_facts(turn.text)
        for kind in kinds:
            await in_db(
                record_fact,
                channel=turn.channel,
                customer_id=turn.customer_id,
                kind=kind,
                text=turn.text,
                source_message_id=turn.message_id,
                order_id=turn.order_id,
            )

        problem = has_any(turn.text, PROBLEM)
        if FactKind.already_paid in kinds or problem:
            # Money may be in the wrong place: a person verifies it.
            hours = default_categories().reply_hours(PAYMENT_CATEGORY)
            ticket = await open_ticket(
                turn,
                intent="payment_reminder",
                category=PAYMENT_CATEGORY,
                summary=("已付款核实：" if FactKind.already_paid in kinds else "支付问题：") + turn.text[:200],
                reply_hours=hours,
            )
            number = ticket_number(ticket.id)
            if FactKind.already_paid in kinds:
                text = (
                    "非常抱歉给您带来打扰！已为您记录“已付款”，相关付款提醒会暂停。"
                    f"我们会核实到账情况，工单号：{number}，{promise_text(hours)}给您回复。"
                )
            else:
                text = (
                    "非常抱歉给您带来不便！您遇到的支付问题已为您登记，"
                    f"工单号：{number}，财务会在{promise_text(hours)}核实并回复您；"
                    "如确认重复扣款，款项会原路退回。"
                )
        elif FactKind.stop_reminders in kinds:
            text = "抱歉打扰到您了！已为您关闭付款提醒，后续不会再发送催缴消息。如需帮助，随时可以找我们。"
        elif FactKind.pay_later in kinds:
            text = (
                "好的，理解您的情况，已为您记录，付款提醒会暂停一段时间。"
                "请您在方便时尽快完成支付，以免订单关闭或产生滞纳金，谢谢您的支持！"
            )
        else:
            # A shop buyer's payment question is about their own orders.
            own = await order_answer(turn) if turn.channel in SHOP_CHANNELS else None
            if own is None:
                # "空置房要交物业费吗": the business's own knowledge base, when it knows.
                found = await kb_answer(turn)
                if found is not None:
                    return answer_with_feedback(dispatcher, found, turn.channel)
            guide = best_answer(load_faq()["payment"], turn.text) or answer_by_id("payment", "general")
            text = (
                own
                if own is not None
                else guide.text_for(turn.channel) + "\n如付款遇到问题，随时告诉我，我来帮您处理。"
            )
        dispatcher.utter_message(text=text)
        return []
