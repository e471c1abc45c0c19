"""What the customer asks about a ticket they have: its status, who handles
it, the promised time and the latest update, in plain Chinese. Never opens a
ticket. Only the customer's own tickets: another customer's number reads
exactly like a number that does not exist.

A nudge ("还没人来修", "师傅什么时候到") goes on the ticket's timeline; on an
overdue ticket it is a 催单 (kefu.core.tickets.chase_ticket): the owner sees
it first and the customer gets an apology and the new promise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.outage import polite_on_outage
from actions.store import in_db
from actions.turn import Turn, current_turn
from kefu.core import tickets
from kefu.core.models import SHANGHAI, Ticket, TicketEvent, TicketStatus
from kefu.text.entities import ticket_id_of
from kefu.text.ticket_talk import is_addition, is_chase, ticket_numbers

MAX_LISTED = 5
STATUS_WORDS = {
    TicketStatus.new.value: "已受理登记，正在为您安排处理人员",
    TicketStatus.in_progress.value: "正在处理中",
    TicketStatus.waiting_customer.value: "正在等您补充信息（直接在这里留言即可）",
    TicketStatus.resolved.value: "已处理完毕",
    TicketStatus.closed.value: "已办结",
}
SHORT_STATUS = {
    TicketStatus.new.value: "待处理",
    TicketStatus.in_progress.value: "处理中",
    TicketStatus.waiting_customer.value: "待您补充",
    TicketStatus.resolved.value: "已解决",
    TicketStatus.closed.value: "已办结",
}
MOVED_WORDS = {
    TicketStatus.in_progress.value: "工单已有专人跟进处理",
    TicketStatus.waiting_customer.value: "处理人员需要您补充信息",
    TicketStatus.resolved.value: "问题已处理完毕",
    TicketStatus.closed.value: "工单已办结",
}
NOT_FOUND = (
    "抱歉，没有找到该工单（{number}），请您核对一下工单号。"
    "工单号以 KF 开头，可在登记时的回复中找到；如需帮助，请回复“转人工”。"
)
NOTHING_TO_ADD_TO = "您目前没有正在处理中的工单，请直接描述您遇到的问题，我来为您登记。"
NONE_OPEN = "您目前没有正在处理中的工单。如需报修、咨询或反映问题，直接告诉我就可以。"


def when(value: datetime) -> str:
    """A time in Beijing time, as a customer reads it."""
    local = value.astimezone(SHANGHAI)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def subject(ticket: Ticket) -> str:
    summary = ticket.summary.split("：", 1)[-1]
    return summary[:20] + ("…" if len(summary) > 20 else "")


def update_text(event: TicketEvent | None) -> str | None:
    if event is None:
        return None
    if event.kind == "chase":
        return f"{when(event.at)} 您的催办已送达负责人员"
    if event.kind in ("customer", "survey"):
        return f"{when(event.at)} 您的留言已记录"
    if event.to_status in MOVED_WORDS:
        return f"{when(event.at)} {MOVED_WORDS[event.to_status]}"
    return None


@dataclass(frozen=True)
class View:
    ticket: Ticket
    owner: str | None
    latest: TicketEvent | None


def view_of(session, ticket: Ticket) -> View:
    return View(ticket, tickets.owner_name(session, ticket), tickets.latest_customer_visible(session, ticket.id))


def describe(view: View) -> str:
    t = view.ticket
    number = tickets.ticket_number(t.id)
    lines = [f"您的工单 {number}（{subject(t)}）{STATUS_WORDS.get(t.status, '处理中')}。"]
    if t.status not in tickets.DONE:
        lines.append(f"负责人：{'客服' + view.owner if view.owner else '客服团队（正在安排专人）'}")
        if t.chase_due_at is not None and t.chased_at is not None:
            lines.append(f"已为您加急，负责人员会在 {when(t.chase_due_at)} 前联系您。")
        elif tickets.is_overdue(t):
            lines.append(f"原定 {when(t.due_at)} 前给您答复，现在已经超时了，非常抱歉！我们会尽快处理。")
        else:
            lines.append(f"承诺时间：{when(t.due_at)} 前给您答复")
    update = update_text(view.latest)
    if update:
        lines.append(f"当前进展：{update}")
    if t.status not in tickets.DONE:
        lines.append("如需补充情况，直接在这里留言即可。")
    return "\n".join(lines)


def listing(views: list[View]) -> str:
    rows = []
    for i, v in enumerate(views, 1):
        t = v.ticket
        due = "已超时" if tickets.is_overdue(t) else f"{when(t.due_at)} 前答复"
        rows.append(f"{i}. {tickets.ticket_number(t.id)} {subject(t)} · {SHORT_STATUS.get(t.status, '处理中')} · {due}")
    return (
        f"您目前有 {len(views)} 个正在处理的工单（按登记时间从新到旧）：\n"
        + "\n".join(rows)
        + "\n回复工单号（如 "
        + tickets.ticket_number(views[0].ticket.id)
        + "）可查看详情。"
    )


def nudge(session, turn: Turn, ticket: Ticket) -> str:
    """The customer chases or adds to an open ticket: on its timeline, once.
    A chase on an overdue ticket is a 催单."""
    number = tickets.ticket_number(ticket.id)
    if is_chase(turn.text) and tickets.is_overdue(ticket):
        chased = tickets.chase_ticket(session, ticket.id, turn.text, turn.message_id)
        assert chased is not None
        return (
            f"非常抱歉让您久等了！工单 {number} 已超过原定的答复时间（{when(chased.due_at)}），"
            f"我们已为您加急催办，负责人员会在 {when(chased.chase_due_at)} 前联系您。"
            "给您添麻烦了，感谢您的耐心！"
        )
    tickets.add_customer_message(session, ticket.id, turn.text, turn.message_id)
    view = view_of(session, ticket)
    return f"您的留言已补充到工单 {number}，负责人员会看到。\n" + describe(view)


def status_answer(session, turn: Turn) -> str:
    numbers = ticket_numbers(turn.text)
    if numbers:
        ticket_id = ticket_id_of(numbers[0])
        ticket = tickets.customer_ticket(session, turn.customer_id, ticket_id) if ticket_id else None
        if ticket is None:
            return NOT_FOUND.format(number=numbers[0])
        if (is_chase(turn.text) or is_addition(turn.text)) and ticket.status not in tickets.DONE:
            return nudge(session, turn, ticket)
        return describe(view_of(session, ticket))
    open_ones = tickets.open_tickets(session, turn.customer_id, limit=MAX_LISTED)
    if (is_chase(turn.text) or is_addition(turn.text)) and open_ones:
        # "还没人来", "补充一下": about the newest open matter, the one they most likely mean.
        target = tickets.recent_open_ticket(session, turn.customer_id) or open_ones[0]
        return nudge(session, turn, target)
    if is_addition(turn.text):
        return NOTHING_TO_ADD_TO
    if len(open_ones) == 1:
        return describe(view_of(session, open_ones[0]))
    if open_ones:
        return listing([view_of(session, t) for t in open_ones])
    latest = tickets.latest_ticket(session, turn.customer_id)
    if latest is not None:
        return describe(view_of(session, latest)) + "\n" + NONE_OPEN
    return NONE_OPEN


class ActionTicketStatus(Action):
    def name(self) -> str:
        return "action_ticket_status"

    @polite_on_outage
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain) -> list[dict[str, Any]]:
        turn = current_turn(tracker)
        dispatcher.utter_message(text=await in_db(status_answer, turn))
        return []
