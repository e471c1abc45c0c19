"""Ticket life cycle, timeline, 回访 after repairs, and the weekly report's
figures, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import pytest

from kefu.core import reports, ticket_flow
from kefu.core.agents import add_agent
from kefu.core.models import SHANGHAI, Ticket
from kefu.core.tickets import NewTicket, create_ticket, list_tickets, take_ticket, ticket_to_json

MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)  # ISO week 2026-W48


def ticket(
    session,
    n: int,
    intent: str = "repair",
    category: str = "报修",
    hours: float = 2,
    channel: str = "wechat",
    at: datetime = MONDAY,
) -> Ticket:
    created, _ = create_ticket(
        session,
        NewTicket(
            channel=channel,
            customer_id=f"{channel}:c{n}",
            intent=intent,
            category=category,
            summary=f"问题 {n}",
            opening_message=f"问题 {n}",
            source_message_id=f"m{n}",
            reply_hours=hours,
        ),
        now=at,
    )
    return created


def test_life_cycle_owner_only_timeline_and_follow_up(session):
    owner, _ = add_agent(session, "王工", "agent")
    other, _ = add_agent(session, "李工", "agent")
    boss, _ = add_agent(session, "主管", "supervisor")
    t = ticket(session, 1)
    with pytest.raises(ticket_flow.TicketMoveRefused, match="take the ticket first"):
        ticket_flow.move(session, t.id, other, "in_progress")
    take_ticket(session, t.id, owner.id)
    with pytest.raises(ticket_flow.TicketMoveRefused) as refused:
        ticket_flow.move(session, t.id, other, "resolved")
    assert refused.value.status == 403
    ticket_flow.move(session, t.id, owner, "waiting_customer", "已联系业主，等待确认上门时间")
    with pytest.raises(ticket_flow.TicketMoveRefused) as refused:
        ticket_flow.move(session, t.id, owner, "closed")  # not from waiting_customer
    assert refused.value.status == 409
    resolved = ticket_flow.move(session, t.id, owner, "resolved", "已更换水管")
    assert resolved.resolved_at is not None and resolved.taken_at is not None
    [follow] = ticket_flow.open_followups(session)
    assert follow.ticket_id == t.id and follow.due_at - resolved.resolved_at == timedelta(hours=24)
    ticket_flow.complete_followup(session, follow.id, owner, "业主表示已修好，很满意")
    assert ticket_flow.open_followups(session) == []
    closed = ticket_flow.move(session, t.id, boss, "closed")  # a supervisor may move any ticket
    assert closed.closed_at is not None
    steps = [(e["from"], e["to"]) for e in ticket_flow.timeline(session, t.id)]
    assert steps == [
        ("new", "in_progress"),
        ("in_progress", "waiting_customer"),
        ("waiting_customer", "resolved"),
        ("resolved", None),
        ("resolved", "closed"),
    ]
    assert ticket_flow.timeline(session, t.id)[1]["agent"] == "王工"
    # A complaint resolved gets no 回访 task.
    c = ticket(session, 2, intent="complaint", category="服务态度")
    take_ticket(session, c.id, owner.id)
    ticket_flow.move(session, c.id, owner, "resolved")
    assert ticket_flow.open_followups(session) == []
    # An emergency (困人, 爆管 …) is a repair done urgently: it is visited too.
    e = ticket(session, 5, intent="emergency", hours=0.5)
    take_ticket(session, e.id, owner.id)
    ticket_flow.move(session, e.id, owner, "resolved", "已解困")
    assert [f.ticket_id for f in ticket_flow.open_followups(session)] == [e.id]


def test_filters_and_overdue(session):
    agent, _ = add_agent(session, "小周", "agent")
    late = ticket(session, 3, at=datetime.now(SHANGHAI) - timedelta(hours=3))  # promised 2 h
    fresh = ticket(session, 4, channel="taobao", category="物流", at=datetime.now(SHANGHAI))
    take_ticket(session, fresh.id, agent.id)
    assert [t.id for t in list_tickets(session, overdue=True)] == [late.id]
    assert ticket_to_json(late)["overdue"] is True and ticket_to_json(fresh)["overdue"] is False
    assert [t.id for t in list_tickets(session, channel="taobao")] == [fresh.id]
    assert [t.id for t in list_tickets(session, owner_id=agent.id)] == [fresh.id]
    assert [t.id for t in list_tickets(session, category="报修")] == [late.id]


def test_weekly_report_figures_and_csv(session):
    a, _ = add_agent(session, "阿芳", "agent")
    b, _ = add_agent(session, "阿强", "agent")
    t1 = ticket(session, 11, at=MONDAY)  # due 11:00
    t2 = ticket(
        session, 12, intent="complaint", category="服务态度", hours=24, channel="taobao", at=MONDAY + timedelta(days=1)
    )
    ticket(session, 13, at=MONDAY + timedelta(days=2))  # never answered, overdue
    ticket(session, 14, at=MONDAY + timedelta(days=7))  # next week
    for t, agent, taken, resolved in (
        (t1, a, timedelta(minutes=30), timedelta(hours=5)),
        (t2, b, timedelta(hours=30), None),
    ):
        take_ticket(session, t.id, agent.id)
        row = session.get(Ticket, t.id)
        row.taken_at = t.created_at + taken
        row.resolved_at = t.created_at + resolved if resolved else None
        row.status = "resolved" if resolved else "in_progress"
        session.commit()
    report = reports.weekly(session, "2026-W48", MONDAY + timedelta(days=6))
    assert report["week"] == "2026-W48" and report["tickets"] == 3
    assert report["by_category"] == {"报修": 2, "服务态度": 1}
    assert report["by_channel"] == {"wechat": 2, "taobao": 1}
    assert report["answered_within_promise"] == pytest.approx(1 / 3, abs=0.001)  # only t1 in time
    assert report["avg_first_response_minutes"] == pytest.approx((30 + 30 * 60) / 2, abs=0.1)
    assert report["avg_resolution_hours"] == 5.0 and report["csat"] is None  # no survey answered
    assert [(r["agent"], r["tickets"], r["answered_within_promise"]) for r in report["agents"]] in (
        [("阿芳", 1, 1.0), ("阿强", 1, 0.0)],
        [("阿强", 1, 0.0), ("阿芳", 1, 1.0)],
    )
    text = reports.to_csv(report)
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == ["客服周报", "2026-W48"]
    # One table per section: a heading, a header row, one row per item.
    at = rows.index(["按类别"])
    assert rows[at + 1] == ["类别", "工单数"] and rows[at + 2] == ["报修", "2"] and rows[at + 3] == ["服务态度", "1"]
    at = rows.index(["按渠道"])
    assert rows[at + 2] == ["微信", "2"] and rows[at + 3] == ["淘宝", "1"]
    at = rows.index(["按客服"])
    assert rows[at + 1][:3] == ["客服", "工单数", "已解决"] and {r[0] for r in rows[at + 2 : at + 4]} == {
        "阿芳",
        "阿强",
    }
    # An agent's own report has their figures only.
    own = reports.weekly(session, "2026-W48", MONDAY + timedelta(days=6), agent_id=a.id)
    assert own["scope"] == "own" and own["tickets"] == 1 and [r["agent"] for r in own["agents"]] == ["阿芳"]
    assert own["groups"] == []
    with pytest.raises(reports.BadWeek):
        reports.week_bounds("48th week", MONDAY)


@pytest.mark.parametrize(
    "text,score",
    [
        ("5", 5),
        ("4分", 4),
        (" 3 ", 3),
        ("1星", 1),
        ("非常满意", 5),
        ("满意", 4),
        ("不满意", 2),
        ("非常不满意", 1),
        ("一般", 3),
        ("6", None),
        ("15", None),
        ("满意度调查是什么", None),
        ("", None),
    ],
)
def test_survey_scores_are_read_from_messy_answers(text, score):
    from kefu.core.surveys import parse_score

    assert parse_score(text) == score


def test_survey_poor_score_reopens_for_a_supervisor_and_feeds_csat(session):
    from kefu.core import surveys

    owner, _ = add_agent(session, "小林", "agent")
    good, bad = ticket(session, 21, at=datetime.now(SHANGHAI)), ticket(session, 22, at=datetime.now(SHANGHAI))
    for t in (good, bad):
        take_ticket(session, t.id, owner.id)
        ticket_flow.move(session, t.id, owner, "resolved")
        ticket_flow.move(session, t.id, owner, "closed")
        assert surveys.open_survey(session, session.get(Ticket, t.id)) is not None
        assert surveys.open_survey(session, session.get(Ticket, t.id)) is None  # asked once
    assert surveys.answer(session, good.customer_id, "在吗") is None  # not an answer
    assert surveys.answer(session, good.customer_id, "5分") == (5, False)
    assert surveys.answer(session, good.customer_id, "5") is None  # already answered
    assert surveys.answer(session, bad.customer_id, "1") == (1, True)
    reopened = session.get(Ticket, bad.id)
    assert (reopened.status, reopened.owner_id) == ("in_progress", None)
    assert "满意度 1 分" in ticket_flow.timeline(session, bad.id)[-1]["note"]
    report = reports.weekly(session, None, datetime.now(SHANGHAI))
    assert report["csat"] == 3.0 and report["surveys_answered"] == 2
    assert report["agents"][0]["csat"] == 3.0
