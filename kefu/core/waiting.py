"""The customer's side of waiting for an agent (the waiting room).

While a conversation waits for its first agent the bot's NLU is paused,
but the customer is not ignored: a question about the wait gets the
position and an estimate, "不用了 / 算了" leaves the queue (abandoned),
"留言" turns the wait into a ticket with the 24-hour promise, anything
else is kept for the agent and acknowledged at most once a minute
(kefu.text.queue_talk reads the message). Without the waiting room's
reply nobody would answer: Rasa predicts nothing while paused.

Outside the group's working hours, or with nobody of the group at the
desk, the customer is told so with the hours and offered 留言; an urgent
conversation (emergency, urgent repair) is never turned away: it gets the
duty phone (值班电话, kefu/core/data/emergencies.yml) and stays first in
the queue.

Every function returns what to tell the customer (Reply) and changes the
conversation in the same transaction; the desk (kefu/desk/waiting_room.py)
delivers the text on the customer's channel and resumes the bot when the
customer left the queue.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.core import queue_waits
from kefu.core.conversations import list_conversations, reset_wait, return_to_bot
from kefu.core.emergencies import default_emergencies
from kefu.core.models import Agent, Conversation, ConversationStatus, Priority, SkillGroup, utcnow
from kefu.core.routing import (
    DAYS,
    ONLINE,
    PRESENCE_TIMEOUT,
    active_counts,
    group_of,
    in_group,
    is_open,
    list_groups,
    positions,
    presence,
)
from kefu.core.tickets import NewTicket, create_ticket, ticket_number
from kefu.text.queue_talk import Reading, hear

NOTICE_EVERY = timedelta(seconds=60)  # position news and "已收到" at most this often
OFFER_AFTER = timedelta(minutes=5)  # KEFU_WAIT_OFFER_AFTER: 留言 offered again after this long
DEFAULT_HANDLE = timedelta(minutes=5)  # a group with no recent handling time yet
RECENT_HANDLED = 20  # the estimate reads this many of the group's latest conversations
LEAVE_MESSAGE_HOURS = 24  # seed: a complex matter is answered within 24 hours
LEAVE_MESSAGE_CATEGORY = "留言"
AT_DESK = (ONLINE, "busy")  # 在线 and 忙碌 agents are at the desk; 离开 and 离线 are not
_DAY_NAMES = dict(zip(DAYS, ("周一", "周二", "周三", "周四", "周五", "周六", "周日"), strict=True))

ACK_TEXT = "您的消息已收到并为您保留，客服接入后会第一时间查看，请您稍候。"
CANCELLED_TEXT = "好的，已为您取消排队。如还需要帮助，随时告诉我；需要人工服务时回复“转人工”即可。"
ASK_MESSAGE_TEXT = "好的，请直接发送您要留言的内容（问题描述，以及房号或订单号、联系电话），我们会在24小时内回复您。"
LEAVE_OFFER = "您可以回复“留言”并写下您的问题，我们会在24小时内回复您；也可以继续等待，客服上线后会第一时间为您服务。"


@dataclass(frozen=True)
class Wait:
    """Where a waiting conversation stands."""

    conversation_id: int
    group: str | None
    position: int  # 1 = next
    minutes: int  # the estimate
    open: bool  # within the group's working hours
    staffed: bool  # open, and an agent of the group at the desk
    hours: str  # the group's hours, as the customer reads them
    urgent: bool


@dataclass(frozen=True)
class Reply:
    conversation_id: int
    channel: str
    customer_id: str
    text: str
    resume: bool = False  # the conversation is back with the bot: Rasa must resume it


def hours_text(group: SkillGroup | None) -> str:
    """ "周一至周五 09:00-18:00；周六 10:00-16:00" ("全天24小时" when always open)."""
    hours = (group.hours if group is not None else None) or {}
    spans = [tuple(tuple(span) for span in hours.get(day, [])) for day in DAYS]
    if all(s == (("00:00", "24:00"),) for s in spans):
        return "全天24小时"
    parts: list[str] = []
    start = 0
    while start < len(DAYS):
        end = start
        while end + 1 < len(DAYS) and spans[end + 1] == spans[start]:
            end += 1
        if spans[start]:
            days = _DAY_NAMES[DAYS[start]] + (f"至{_DAY_NAMES[DAYS[end]]}" if end > start else "")
            parts.append(days + " " + "、".join(f"{a}-{b}" for a, b in spans[start]))
        start = end + 1
    return "；".join(parts) or "暂未开放"


def waiting_for_agent(session: Session, customer_id: str) -> Conversation | None:
    """The customer's conversation waiting in the queue for its first agent."""
    return session.execute(
        select(Conversation)
        .where(
            Conversation.customer_id == customer_id,
            Conversation.status == ConversationStatus.waiting.value,
            Conversation.assignee_id.is_(None),
        )
        .order_by(Conversation.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def handle_time(session: Session, group: str | None, now: datetime) -> timedelta:
    """The average time an agent held the group's latest conversations."""
    query = select(Conversation.handle_seconds).where(
        Conversation.handle_seconds.is_not(None), Conversation.handled_at >= now - timedelta(days=7)
    )
    if group is not None:
        query = query.where(Conversation.group_name == group)
    seconds = list(session.execute(query.order_by(Conversation.handled_at.desc()).limit(RECENT_HANDLED)).scalars())
    if not seconds:
        return DEFAULT_HANDLE
    return timedelta(seconds=sum(seconds) / len(seconds))


def wait_of(
    session: Session,
    conversation: Conversation,
    now: datetime | None = None,
    timeout: timedelta = PRESENCE_TIMEOUT,
    places: dict[int, tuple[str | None, int]] | None = None,
    groups: Sequence[SkillGroup] | None = None,
    agents: Sequence[Agent] | None = None,
    handle_times: dict[str | None, timedelta] | None = None,
) -> Wait:
    """Position and estimate: position × handling time ÷ the conversations
    the group's agents at the desk can hold at once (at least one minute)."""
    now = now or utcnow()
    groups = list_groups(session) if groups is None else groups
    group = group_of(groups, conversation)
    places = positions(session) if places is None else places
    position = places.get(conversation.id, (None, 1))[1]
    if agents is None:
        agents = list(session.execute(select(Agent).where(Agent.disabled_at.is_(None))).scalars())
    present = [a for a in agents if in_group(a, group) and presence(a, now, timeout) in AT_DESK]
    capacity = sum(a.capacity for a in present) or 1
    name = group.name if group else None
    if handle_times is None:
        handle = handle_time(session, name, now)
    else:
        if name not in handle_times:
            handle_times[name] = handle_time(session, name, now)
        handle = handle_times[name]
    minutes = max(1, math.ceil(position * handle.total_seconds() / capacity / 60))
    open_now = group is None or is_open(group, now)
    return Wait(
        conversation_id=conversation.id,
        group=group.name if group else None,
        position=position,
        minutes=minutes,
        open=open_now,
        staffed=open_now and bool(present),
        hours=hours_text(group),
        urgent=conversation.priority == Priority.urgent.value,
    )


# -- what the customer reads ---------------------------------------------------


def position_text(wait: Wait) -> str:
    if wait.position <= 1:
        # Not "第一位": the advertising-law check would rewrite 第一 on shop channels.
        return f"您前面没有其他客户在排队，预计等待约 {wait.minutes} 分钟，请您稍候。"
    return f"您前面还有 {wait.position - 1} 位，预计等待约 {wait.minutes} 分钟，请您稍候。"


def duty_text() -> str:
    """An urgent conversation nobody can take now: the duty phone, never 留言."""
    duty = default_emergencies().numbers.get("property") or "物业24小时值班电话"
    return (
        "现在人工客服暂时无人在线，您的紧急情况已标记为紧急并排在队列首位，客服上线后会第一时间联系您。"
        f"如情况危急，请立即拨打{duty}，或拨打119、110、120。"
    )


def unstaffed_text(wait: Wait) -> str:
    if wait.urgent:
        return duty_text()
    if not wait.open:
        return f"抱歉，现在不在人工客服的服务时间（{wait.hours}）。{LEAVE_OFFER}"
    return f"抱歉，人工客服暂时都不在线（服务时间：{wait.hours}）。{LEAVE_OFFER}"


def wait_text(wait: Wait) -> str:
    return position_text(wait) if wait.staffed else unstaffed_text(wait)


def left_text(number: str) -> str:
    return f"已为您留言，工单号：{number}，我们会在24小时内回复您，感谢您的耐心！如还有其他问题，可以继续问我。"


def reoffer_text(wait: Wait) -> str:
    where = f"您前面还有 {wait.position - 1} 位。" if wait.staffed and wait.position > 1 else ""
    return f"让您久等了，目前客服较忙。{where}{LEAVE_OFFER}"


# -- the waiting room's steps ---------------------------------------------------


def on_handoff(
    session: Session, customer_id: str, now: datetime | None = None, timeout: timedelta = PRESENCE_TIMEOUT
) -> Wait | None:
    """Where a conversation just handed off stands (position_text or
    unstaffed_text tell the customer); None when an agent is free now (the
    assignment follows at once) or it is not waiting."""
    now = now or utcnow()
    conversation = waiting_for_agent(session, customer_id)
    if conversation is None:
        return None
    wait = wait_of(session, conversation, now, timeout)
    if wait.staffed and wait.position <= 1 and _free_agent(session, wait, now, timeout):
        session.rollback()
        return None
    conversation.wait_told_position = wait.position
    conversation.wait_told_at = now
    if not wait.staffed:
        conversation.wait_offered_at = now
    session.commit()
    return wait


def _free_agent(session: Session, wait: Wait, now: datetime, timeout: timedelta) -> bool:
    groups = {g.name: g for g in list_groups(session)}
    group = groups.get(wait.group) if wait.group else None
    active = active_counts(session)
    agents = session.execute(select(Agent).where(Agent.disabled_at.is_(None))).scalars()
    return any(
        presence(a, now, timeout) == ONLINE and in_group(a, group) and active.get(a.id, 0) < a.capacity for a in agents
    )


def on_message(
    session: Session,
    customer_id: str,
    text: str,
    sent_at: datetime,
    key: str,
    now: datetime | None = None,
    timeout: timedelta = PRESENCE_TIMEOUT,
    ack_every: timedelta = NOTICE_EVERY,
) -> Reply | None:
    """A customer message that arrived while the conversation waits. `key`
    names the message (the same key never makes two tickets); None: nothing
    to say (not waiting, the handoff's own message, an "已收到" said lately)."""
    now = now or utcnow()
    conversation = waiting_for_agent(session, customer_id)
    if conversation is None or conversation.waiting_since is None or sent_at < conversation.waiting_since:
        session.rollback()
        return None

    def reply(words: str, resume: bool = False) -> Reply:
        return Reply(conversation.id, conversation.channel, conversation.customer_id, words, resume)

    heard = hear(text)
    if heard.reading is Reading.cancel:
        conversation.abandoned_at = now
        queue_waits.ended(session, conversation, now, abandoned=True)
        reset_wait(conversation)
        return_to_bot(session, conversation.id)  # commits
        return reply(CANCELLED_TEXT, resume=True)
    content = heard.content if heard.reading is Reading.leave else text.strip()
    if heard.reading is Reading.leave and not content:
        conversation.wait_message_asked = True
        session.commit()
        return reply(ASK_MESSAGE_TEXT)
    if heard.reading is Reading.leave or (conversation.wait_message_asked and heard.reading is Reading.other):
        number = _leave_message(session, conversation, content, key, now)
        queue_waits.ended(session, conversation, now, left_message=True)
        reset_wait(conversation)
        return_to_bot(session, conversation.id)
        return reply(left_text(number), resume=True)
    if heard.reading is Reading.ask:
        wait = wait_of(session, conversation, now, timeout)
        conversation.wait_told_position = wait.position
        conversation.wait_told_at = now
        session.commit()
        return reply(wait_text(wait))
    conversation.last_message = text  # the queue shows the newest words
    if conversation.wait_acked_at is not None and now - conversation.wait_acked_at < ack_every:
        session.commit()
        return None
    conversation.wait_acked_at = now
    session.commit()
    return reply(ACK_TEXT)


def _leave_message(session: Session, conversation: Conversation, content: str, key: str, now: datetime) -> str:
    before = conversation.last_message if conversation.last_message and conversation.last_message != content else ""
    summary = f"留言：{content[:200]}"
    ticket, _created = create_ticket(
        session,
        NewTicket(
            channel=conversation.channel,
            customer_id=conversation.customer_id,
            intent=conversation.intent or "request_human",
            category=LEAVE_MESSAGE_CATEGORY,
            summary=summary,
            opening_message=f"{before}\n{content}".strip() if before else content,
            source_message_id=f"queue:{key}",
            reply_hours=LEAVE_MESSAGE_HOURS,
            priority=conversation.priority,
        ),
        now,
    )
    return ticket_number(ticket.id)


def due(
    session: Session,
    now: datetime | None = None,
    timeout: timedelta = PRESENCE_TIMEOUT,
    notice_every: timedelta = NOTICE_EVERY,
    offer_after: timedelta = OFFER_AFTER,
) -> list[Reply]:
    """What the waiting room says by itself: the new position (at most once
    a minute, while the group is staffed) and, after `offer_after` of
    waiting, 留言 offered again (never to an urgent conversation)."""
    now = now or utcnow()
    if not _anyone_waiting(session):
        return []
    # No routing lock: one desk process at a time runs the waiting room (the
    # event feed's lease, or RabbitMQ's exclusive consumer).
    queue = list_conversations(session, ConversationStatus.waiting.value)
    places = positions(session, queue)
    groups = list_groups(session)
    agents = list(session.execute(select(Agent).where(Agent.disabled_at.is_(None))).scalars())
    handle_times: dict[str | None, timedelta] = {}  # one query per group, not per conversation
    said: list[Reply] = []
    for conversation in queue:
        if conversation.assignee_id is not None or conversation.waiting_since is None:
            continue
        wait = wait_of(session, conversation, now, timeout, places, groups, agents, handle_times)
        since_offer = now - (conversation.wait_offered_at or conversation.waiting_since)
        text = None
        if not wait.urgent and since_offer >= offer_after:
            text = reoffer_text(wait)
            conversation.wait_offered_at = now
        elif (
            wait.staffed
            and wait.position != conversation.wait_told_position
            and now - (conversation.wait_told_at or conversation.waiting_since) >= notice_every
        ):
            text = position_text(wait)
        if text is None:
            continue
        conversation.wait_told_position = wait.position
        conversation.wait_told_at = now
        said.append(Reply(conversation.id, conversation.channel, conversation.customer_id, text))
    session.commit()
    return said


def _anyone_waiting(session: Session) -> bool:
    found = session.execute(
        select(Conversation.id)
        .where(Conversation.status == ConversationStatus.waiting.value, Conversation.assignee_id.is_(None))
        .limit(1)
    ).first()
    session.rollback()
    return found is not None


def unstaffed_urgent(
    session: Session, queue: Sequence[Conversation], now: datetime | None = None, timeout: timedelta = PRESENCE_TIMEOUT
) -> set[int]:
    """Urgent conversations in the queue that no agent of their group at the
    desk can take: every supervisor at the desk is alerted to them."""
    urgent = [
        c
        for c in queue
        if c.status == ConversationStatus.waiting.value
        and c.assignee_id is None
        and c.priority == Priority.urgent.value
    ]
    if not urgent:
        return set()
    now = now or utcnow()
    groups = list_groups(session)
    agents = list(session.execute(select(Agent).where(Agent.disabled_at.is_(None))).scalars())
    present = [a for a in agents if presence(a, now, timeout) in AT_DESK]
    return {c.id for c in urgent if not any(in_group(a, group_of(groups, c)) for a in present)}
