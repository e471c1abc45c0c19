"""Fast tier: ticket numbers, status wording, score comments, the core's
follow-up and chase functions, and migration 0014 on a database with rows."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kefu.core import surveys, ticket_flow, tickets
from kefu.core.models import SHANGHAI, Ticket, utcnow
from kefu.core.tickets import NewTicket, create_ticket
from kefu.text.entities import find_entities
from kefu.text.ticket_talk import is_chase, is_status_question, score_with_comment


@pytest.mark.parametrize(
    "text, number",
    [
        ("我刚才的工单KF000007处理得怎么样了", "KF000007"),
        ("kf000007 进度", "KF000007"),
        ("KF 7怎么样了", "KF000007"),
        ("工单号：KF-000123", "KF000123"),
        ("ＫＦ０００００７", "KF000007"),
    ],
)
def test_ticket_numbers_are_found_however_they_are_typed(text, number):
    assert [e.value for e in find_entities(text) if e.entity == "ticket_number"] == [number]


def test_a_ticket_number_is_not_a_phone_or_an_order_and_vice_versa():
    found = {(e.entity, e.value) for e in find_entities("KF000007，电话13812345678")}
    assert found == {("phone", "13812345678"), ("ticket_number", "KF000007")}
    assert not [e for e in find_entities("订单号4120398475610293847") if e.entity == "ticket_number"]
    assert not [e for e in find_entities("SKF0001 轴承") if e.entity == "ticket_number"]


@pytest.mark.parametrize(
    "text",
    [
        "我的工单",
        "查一下我的报修进度",
        "投诉有结果了吗",
        "我报修的怎么还没人来",
        "还没人来修",
        "怎么还没人处理",
        "师傅什么时候到",
        "我之前的报修呢",
        "问下投诉情况",
        "我那个投诉处理了吗",
    ],
)
def test_status_questions(text):
    assert is_status_question(text)


@pytest.mark.parametrize(
    "text",
    [
        "退款申请十天了还没处理，太过分了",
        "物流太慢了，一个礼拜了还没到，气死了",
        "漏水报修三次了都没人来修，我要投诉",
        "房产证办理进度怎么查",
        "我要报修",
        "我想补充一下材料，办房产证需要什么",
        "投诉！",
        "2分，师傅来得太慢",
        "空调安装师傅什么时候能到 订单号4120398475610293847",
        # New requests that mention a request word.
        "我报修一下厨房漏水",
        "我的问题是水管漏了",
        "我想问一下维修费怎么算",
        "帮我看一下问题",
        "墙面渗水，麻烦开发商这边安排人来检查维修一下",
        "我维修的东西又坏了",
        "我的投诉是关于保安态度的",
    ],
)
def test_not_status_questions(text):
    assert not is_status_question(text)


def test_chase_wording():
    assert is_chase("还没人来修") and is_chase("师傅几点能到") and not is_chase("查一下进度")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2分，师傅来得太慢", (2, "师傅来得太慢")),
        ("5分 很满意 谢谢", (5, "很满意 谢谢")),
        ("太慢了，给2分", (2, "太慢了")),
        ("4星，还行", (4, "还行")),
        ("5", None),
        ("5分", None),
        ("我等了5分钟", None),
        ("2分钱的东西", None),
        ("3 号楼漏水", None),
    ],
)
def test_scores_with_comments(text, expected):
    assert score_with_comment(text) == expected


def new(session, customer: str, n: int, ago: timedelta = timedelta(0), hours: float = 2) -> Ticket:
    ticket, _ = create_ticket(
        session,
        NewTicket("rest", customer, "repair", "报修", f"报修 {n}", f"报修 {n}", f"m{n}", hours),
        now=utcnow() - ago,
    )
    return ticket


def test_recent_open_ticket_follow_up_and_chase(session):
    old = new(session, "rest:a", 1, ago=timedelta(days=2))
    assert tickets.recent_open_ticket(session, "rest:a") is None  # older than a day: a new matter
    today = new(session, "rest:a", 2, ago=timedelta(hours=3))
    new(session, "rest:b", 3)
    assert tickets.recent_open_ticket(session, "rest:a").id == today.id
    assert tickets.customer_ticket(session, "rest:b", today.id) is None
    tickets.add_customer_message(session, today.id, "还没人来", "msg-1")
    tickets.add_customer_message(session, today.id, "还没人来", "msg-1")  # a retried action
    assert [(e["kind"], e["note"]) for e in ticket_flow.timeline(session, today.id)] == [("customer", "还没人来")]
    assert tickets.is_overdue(today)  # 2 h promise, opened 3 h ago
    chased = tickets.chase_ticket(session, today.id, "怎么还没人处理", "msg-2")
    tickets.chase_ticket(session, today.id, "怎么还没人处理", "msg-2")
    assert chased.chases == 1 and chased.chased_at is not None
    assert chased.chase_due_at - chased.chased_at == timedelta(hours=2)
    assert [t.id for t in tickets.list_tickets(session, customer_id="rest:a")] == [today.id, old.id]
    assert [t.id for t in tickets.list_tickets(session, chased=True)] == [today.id]
    assert tickets.ticket_to_json(chased)["chases"] == 1
    assert tickets.ticket_to_json(chased)["chased_at"].endswith("+08:00")
    assert chased.due_at.astimezone(SHANGHAI) < utcnow()  # still overdue for supervisors


def test_a_survey_comment_goes_on_the_timeline(session):
    t = new(session, "rest:s", 9)
    t.status = "closed"
    session.commit()
    surveys.open_survey(session, t)
    assert surveys.answer(session, "rest:s", "2分，师傅来得太慢", "msg-s") == (2, True)
    notes = [(e["kind"], e["note"]) for e in ticket_flow.timeline(session, t.id)]
    assert ("survey", "客户评价 2 分：师傅来得太慢") in notes


def test_migration_0014_keeps_tickets_and_their_timelines(tmp_path):
    from alembic import command
    from sqlalchemy import text

    from kefu.core.db import alembic_config, make_engine, upgrade

    url = f"sqlite:///{tmp_path / 'old.db'}"
    command.upgrade(alembic_config(url), "0013")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tickets (id, channel, customer_id, intent, category, priority, status, "
                "summary, opening_message, source_message_id, created_at, due_at, updated_at) "
                "VALUES (5, 'rest', 'rest:kept', 'complaint', '物流', 'normal', 'new', 's', 'o', 'm', "
                "'2026-11-30 00:00:00', '2026-11-30 02:00:00', '2026-11-30 00:00:00')"
            )
        )
        conn.execute(text("INSERT INTO ticket_events (ticket_id, at, note) VALUES (5, '2026-11-30 01:00:00', '受理')"))
    upgrade(url)
    with engine.begin() as conn:
        row = conn.execute(text("SELECT chases, chased_at FROM tickets WHERE id = 5")).one()
        assert tuple(row) == (0, None)
        assert conn.execute(text("SELECT note, kind FROM ticket_events")).all() == [("受理", None)]
    command.downgrade(alembic_config(url), "0013")
    with engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM ticket_events")).scalar_one() == 1
    engine.dispose()
