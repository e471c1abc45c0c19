"""The waiting room (kefu/core/waiting.py and kefu/text/queue_talk.py) on
the real desk schema: what a customer waiting for an agent is told, and
what their messages do, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.core import agents, routing, waiting
from kefu.core.models import Conversation, ConversationStatus, SkillGroup, Ticket, utcnow
from kefu.text.queue_talk import Reading, hear
from tests.test_routing import waiting as waiting_conversation

ALL_DAY = {d: [["00:00", "24:00"]] for d in routing.DAYS}


# A customer who asked for a human, as the handoff action records them.
queued = waiting_conversation


def online(session: Session, name: str, capacity: int = 1):
    agent, _password = agents.add_agent(session, name)
    routing.set_agent(session, agent.id, {"capacity": capacity, "groups": None})
    routing.set_status(session, agent.id, "online", utcnow())
    return agent


def said(session: Session, customer: str, text: str, key: str, after: timedelta = timedelta(seconds=1)):
    now = utcnow() + after
    return waiting.on_message(session, customer, text, now, key, now)


@pytest.mark.parametrize(
    ("text", "reading"),
    [
        ("还有人在吗", Reading.ask),
        ("还要等多久？", Reading.ask),
        ("人呢？？😡", Reading.ask),
        ("多久能发货", Reading.other),  # a question for the agent, not about the wait
        ("不用了", Reading.cancel),
        ("算了吧", Reading.cancel),
        ("不用了，我自己解决了", Reading.cancel),
        ("取消", Reading.cancel),
        ("取消订单", Reading.other),
        ("留言", Reading.leave),
        ("我家楼上漏水了", Reading.other),
        ("", Reading.other),
    ],
)
def test_the_waiting_room_reads_only_what_it_must(text, reading):
    assert hear(text).reading is reading


def test_a_message_after_the_word_leave_is_its_content():
    assert hear("留言：电梯坏了，3号楼").content == "电梯坏了，3号楼"
    assert hear("我想留个言 楼上漏水").content == "楼上漏水"


def test_a_question_about_the_wait_gets_the_position_and_an_estimate(session: Session):
    online(session, "小王", capacity=1)
    first, second = queued(session, "甲"), queued(session, "乙")
    routing.route(session)  # 甲 goes to the only agent; 乙 waits
    third = queued(session, "丙")
    reply = said(session, "丙", "还要等多久", "k1")
    assert reply is not None and reply.conversation_id == third.id and not reply.resume
    # 乙 is next, 丙 after: one ahead; default handling 5 min × position 2 ÷ capacity 1.
    assert reply.text == "您前面还有 1 位，预计等待约 10 分钟，请您稍候。"
    assert second.id != third.id and first.assignee_id is not None


def test_the_estimate_follows_the_groups_recent_handling_times(session: Session):
    online(session, "小王", capacity=2)
    now = utcnow()
    for i, minutes in enumerate((2, 4)):
        done = queued(session, f"旧{i}")
        done.status = ConversationStatus.closed.value
        done.group_name = "售前咨询"
        done.handle_seconds, done.handled_at = minutes * 60, now
    session.commit()
    conversation = queued(session, "新")
    wait = waiting.wait_of(session, conversation, now)
    # average 3 min × position 1 ÷ capacity 2 → 1.5, rounded up to 2
    assert (wait.position, wait.minutes, wait.staffed) == (1, 2, True)


def test_the_handoffs_own_message_is_not_answered_again(session: Session):
    online(session, "小王", capacity=0)
    conversation = queued(session, "甲")
    before = conversation.waiting_since - timedelta(seconds=1)
    assert waiting.on_message(session, "甲", "转人工", before, "k0") is None


def test_other_messages_are_kept_and_acknowledged_at_most_once_a_minute(session: Session):
    online(session, "小王", capacity=0)
    conversation = queued(session, "甲")
    first = said(session, "甲", "我家楼上漏水了", "k1")
    assert first is not None and first.text == waiting.ACK_TEXT
    assert said(session, "甲", "水越来越多", "k2", timedelta(seconds=30)) is None
    again = said(session, "甲", "还在漏", "k3", timedelta(seconds=62))
    assert again is not None and again.text == waiting.ACK_TEXT
    session.expire_all()
    assert session.get(Conversation, conversation.id).last_message == "还在漏"  # the queue shows the newest


def test_leaving_the_queue_returns_the_conversation_to_the_bot_and_counts_as_abandoned(session: Session):
    online(session, "小王", capacity=0)
    conversation = queued(session, "甲")
    reply = said(session, "甲", "算了", "k1")
    assert reply is not None and reply.resume and reply.text == waiting.CANCELLED_TEXT
    session.expire_all()
    row = session.get(Conversation, conversation.id)
    assert row.status == ConversationStatus.bot.value and row.abandoned_at is not None
    assert said(session, "甲", "还有人吗", "k2") is None  # no longer waiting: the bot answers


def test_leave_a_message_in_one_line_becomes_a_24_hour_ticket(session: Session):
    online(session, "小王", capacity=0)
    conversation = queued(session, "甲")
    reply = said(session, "甲", "留言：3号楼电梯一直响，电话13800138000", "k1")
    assert reply is not None and reply.resume
    ticket = session.execute(select(Ticket).where(Ticket.customer_id == "甲")).scalar_one()
    assert ticket.category == "留言" and "3号楼电梯一直响" in ticket.summary
    assert ticket.due_at - ticket.created_at == timedelta(hours=24)
    assert f"KF{ticket.id:06d}" in reply.text and "24小时内" in reply.text
    session.expire_all()
    assert session.get(Conversation, conversation.id).status == ConversationStatus.bot.value
    # The same message read again (a desk restart) makes no second ticket.
    queued(session, "甲")
    waiting.on_message(session, "甲", "留言：3号楼电梯一直响，电话13800138000", utcnow() + timedelta(seconds=5), "k1")
    assert session.execute(select(Ticket).where(Ticket.customer_id == "甲")).scalars().all() == [ticket]


def test_leave_alone_asks_for_the_message_and_takes_the_next_one(session: Session):
    online(session, "小王", capacity=0)
    queued(session, "甲")
    asked = said(session, "甲", "留言", "k1")
    assert asked is not None and asked.text == waiting.ASK_MESSAGE_TEXT and not asked.resume
    left = said(session, "甲", "楼道灯坏了好几天了", "k2")
    assert left is not None and left.resume
    ticket = session.execute(select(Ticket).where(Ticket.customer_id == "甲")).scalar_one()
    assert ticket.opening_message.endswith("楼道灯坏了好几天了")


def test_outside_working_hours_the_customer_is_told_the_hours_and_offered_leave_a_message(session: Session):
    online(session, "小王")
    group = session.execute(select(SkillGroup).where(SkillGroup.name == "售前咨询")).scalar_one()
    routing.put_group(
        session,
        "售前咨询",
        {
            "intents": group.intents,
            "categories": [],
            "channels": [],
            "hours": {d: [["09:00", "18:00"]] for d in routing.DAYS[:5]},
            "holidays": [utcnow().astimezone(routing.SHANGHAI).strftime("%Y-%m-%d")],  # today is a holiday
        },
    )
    queued(session, "甲")
    wait = waiting.on_handoff(session, "甲")
    assert wait is not None and not wait.staffed and not wait.open
    text = waiting.unstaffed_text(wait)
    assert "周一至周五 09:00-18:00" in text and "留言" in text and "24小时" in text


def test_nobody_online_an_emergency_gets_the_duty_phone_and_never_an_offer_to_leave_a_message(session: Session):
    conversation = queued(session, "困在电梯里", intent="emergency", urgent=True)
    wait = waiting.on_handoff(session, "困在电梯里")
    assert wait is not None and wait.urgent and not wait.staffed
    text = waiting.unstaffed_text(wait)
    assert "值班电话" in text and "留言" not in text and "最" not in text
    later = utcnow() + timedelta(minutes=30)
    assert [r.conversation_id for r in waiting.due(session, later)] == []  # no 留言 offers, ever
    assert routing.positions(session)[conversation.id][1] == 1


def test_news_of_the_position_at_most_once_a_minute_and_the_offer_again_after_the_wait(session: Session):
    online(session, "小王", capacity=1)
    queued(session, "甲")
    routing.route(session)
    queued(session, "乙")
    queued(session, "丙")
    waiting.on_handoff(session, "乙")
    waiting.on_handoff(session, "丙")  # told: 1 ahead
    # 乙 leaves: 丙 moves up, told after the minute has passed, once.
    said(session, "乙", "不等了", "k1")
    now, present = utcnow(), timedelta(hours=1)  # the agent stays present all along
    assert waiting.due(session, now + timedelta(seconds=10), present) == []
    news = waiting.due(session, now + timedelta(seconds=61), present)
    assert [(r.customer_id, r.text.split("，")[0]) for r in news] == [("丙", "您前面没有其他客户在排队")]
    assert waiting.due(session, now + timedelta(seconds=62), present) == []
    offer = waiting.due(session, now + timedelta(minutes=6), present)
    assert [r.customer_id for r in offer] == ["丙"] and "留言" in offer[0].text


def test_no_news_when_an_agent_is_free(session: Session):
    online(session, "小王", capacity=2)
    queued(session, "甲")
    assert waiting.on_handoff(session, "甲") is None


def test_hours_read_as_a_customer_reads_them():
    group = SkillGroup(
        name="x",
        hours={
            **{d: [["09:00", "18:00"]] for d in routing.DAYS[:5]},
            "sat": [["10:00", "16:00"]],
        },
    )
    assert waiting.hours_text(group) == "周一至周五 09:00-18:00；周六 10:00-16:00"
    assert waiting.hours_text(SkillGroup(name="y", hours=ALL_DAY)) == "全天24小时"


def test_every_text_of_the_waiting_room_passes_the_advertising_law_unchanged(session: Session):
    """Shop channels rewrite 极限词 (第一 → 领先): none may hide in these texts."""
    from kefu.text.ad_law import check_outgoing

    wait = waiting.Wait(1, "售前咨询", 1, 3, True, True, "全天24小时", False)
    texts = [
        waiting.ACK_TEXT,
        waiting.CANCELLED_TEXT,
        waiting.ASK_MESSAGE_TEXT,
        waiting.duty_text(),
        waiting.left_text("KF000001"),
        waiting.position_text(wait),
        waiting.position_text(waiting.Wait(1, "售前咨询", 4, 9, True, True, "全天24小时", False)),
        waiting.unstaffed_text(waiting.Wait(1, "售前咨询", 1, 3, False, False, "周一至周五 09:00-18:00", False)),
        waiting.reoffer_text(wait),
    ]
    for text in texts:
        assert check_outgoing(text, "taobao", "x") == text, text


def test_the_queues_log_gives_the_reports_waiting_times_abandonment_and_conversations_per_agent(session: Session):
    from kefu.core import reports
    from kefu.core.conversations import close_conversation
    from kefu.core.models import QueueWait

    agent = online(session, "小王", capacity=2)
    quick, _slow = queued(session, "快的"), queued(session, "慢的")
    queued(session, "走了的")
    routing.route(session)  # 快的 and 慢的 to 小王; 走了的 waits
    said(session, "走了的", "算了", "k1")  # and leaves before anyone came
    close_conversation(session, quick.id)
    waits = {w.customer_id: w for w in session.execute(select(QueueWait)).scalars()}
    assert set(waits) == {"快的", "慢的", "走了的"}
    # Waited 2 and 10 minutes; 快的 was served for 4.
    for name, waited in (("快的", 2), ("慢的", 10)):
        waits[name].queued_at = waits[name].assigned_at - timedelta(minutes=waited)
    waits["快的"].ended_at = waits["快的"].assigned_at + timedelta(minutes=4)
    session.commit()
    report = reports.weekly(session, None, utcnow())
    assert (report["handoffs"], report["answered"], report["abandoned"]) == (3, 2, 1)
    assert report["abandonment_rate"] == pytest.approx(0.333, abs=0.001)
    assert (report["avg_wait_minutes"], report["p90_wait_minutes"]) == (6.0, 10.0)
    [mine] = [r for r in report["agents"] if r["agent"] == "小王"]
    assert (mine["conversations"], mine["avg_handle_minutes"]) == (2, 4.0)
    [group] = report["groups"]
    assert (group["group"], group["handoffs"], group["abandoned"]) == ("售前咨询", 3, 1)
    own = reports.weekly(session, None, utcnow(), agent_id=agent.id)
    assert own["handoffs"] == 2 and own["abandoned"] == 0 and own["groups"] == []
