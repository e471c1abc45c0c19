"""Routing (kefu/core/routing.py) on the real desk schema, SQLite and
PostgreSQL: who gets a waiting conversation, capacity, presence, groups and
working hours, and exactness when many passes run at once."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.core import agents, routing
from kefu.core.conversations import ConversationTaken, record_handoff, return_to_bot
from kefu.core.db import make_engine
from kefu.core.models import Conversation, Priority, SkillGroup

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=timezone.utc)  # 11:00 in Beijing, a Wednesday


def online(session: Session, name: str, capacity: int = 5, groups: list[str] | None = None, at: datetime = NOW):
    agent, _password = agents.add_agent(session, name)
    routing.set_agent(session, agent.id, {"capacity": capacity, "groups": groups})
    routing.set_status(session, agent.id, "online", at)
    return agent


def waiting(session: Session, customer: str, intent: str = "inquiry", urgent: bool = False) -> Conversation:
    return record_handoff(
        session,
        channel="rest",
        customer_id=customer,
        intent=intent,
        reason="customer_request",
        last_message="转人工",
        priority=Priority.urgent.value if urgent else Priority.normal.value,
    )


def assignee(session: Session, conversation: Conversation) -> int | None:
    session.expire_all()
    return session.get(Conversation, conversation.id).assignee_id


def test_a_waiting_conversation_goes_to_the_least_busy_online_agent(session: Session):
    busy = online(session, "忙的")
    free = online(session, "闲的")
    first = waiting(session, "顾客甲")
    assert [a.agent_id for a in routing.route(session, NOW)] == [busy.id]  # a tie: the one never routed to
    second = waiting(session, "顾客乙")
    routing.route(session, NOW + timedelta(seconds=1))
    assert assignee(session, first) == busy.id and assignee(session, second) == free.id
    # Ties go to the one idle longest (routed to longest ago).
    third = waiting(session, "顾客丙")
    routing.route(session, NOW + timedelta(seconds=2))
    assert assignee(session, third) == busy.id


def test_capacity_is_never_exceeded_and_freed_capacity_is_used_at_once(session: Session):
    agent = online(session, "小王", capacity=2)
    convs = [waiting(session, f"顾客{i}") for i in range(3)]
    routing.route(session, NOW)
    assert [assignee(session, c) for c in convs] == [agent.id, agent.id, None]
    assert routing.positions(session)[convs[2].id] == ("售前咨询", 1)
    return_to_bot(session, convs[0].id)  # one handed back: room for the next
    routing.route(session, NOW)
    assert assignee(session, convs[2]) == agent.id
    with pytest.raises(routing.AtCapacity):
        routing.take(session, waiting(session, "顾客3").id, agent.id, NOW)


def test_urgent_first_then_the_seeds_order(session: Session):
    agent = online(session, "小李", capacity=1)
    normal = waiting(session, "先来的")
    urgent = waiting(session, "困在电梯里", intent="emergency", urgent=True)
    routing.route(session, NOW)
    assert assignee(session, urgent) == agent.id and assignee(session, normal) is None


def test_nobody_online_busy_or_away_gets_no_work(session: Session):
    agent = online(session, "小赵")
    for status in ("busy", "away", "offline"):
        routing.set_status(session, agent.id, status, NOW)
        conv = waiting(session, f"顾客-{status}")
        assert routing.route(session, NOW) == []
        assert assignee(session, conv) is None
    # No desk page seen for the presence timeout: offline, whatever was set.
    routing.set_status(session, agent.id, "online", NOW)
    assert routing.route(session, NOW + routing.PRESENCE_TIMEOUT + timedelta(seconds=1)) == []
    assert [a["status"] for a in routing.list_agents(session, now=NOW + timedelta(minutes=2))] == ["offline"]


def test_going_offline_puts_unanswered_conversations_back_and_keeps_the_rest(session: Session):
    leaving = online(session, "要走的")
    answered, unanswered = waiting(session, "聊着的"), waiting(session, "没回的")
    routing.route(session, NOW)
    routing.first_answer(session, answered.id, NOW)
    routing.set_status(session, leaving.id, "offline", NOW)
    assert assignee(session, answered) == leaving.id
    assert assignee(session, unanswered) is None
    other = online(session, "接班的")
    routing.route(session, NOW)
    assert assignee(session, unanswered) == other.id


def test_the_previous_agent_is_asked_first_within_a_day(session: Session):
    first = online(session, "老朋友")
    conv = waiting(session, "回头客")
    routing.route(session, NOW)
    return_to_bot(session, conv.id)
    later = NOW + timedelta(hours=1)
    routing.set_status(session, first.id, "online", later)
    newcomer = online(session, "新来的", at=later)  # never routed to: would win the tie on 0
    again = waiting(session, "回头客")
    assert again.id == conv.id
    routing.route(session, later)
    assert assignee(session, again) == first.id
    # A day later the previous agent is nobody special.
    return_to_bot(session, conv.id)
    day_later = later + timedelta(hours=24, minutes=1)
    routing.set_status(session, first.id, "online", day_later)
    routing.set_status(session, newcomer.id, "online", day_later)
    waiting(session, "回头客")
    routing.route(session, day_later)
    assert assignee(session, again) == newcomer.id


def test_groups_route_by_intent_and_agents_serve_only_theirs(session: Session):
    repairs = online(session, "维修专员", groups=["物业报修"])
    sales = online(session, "售前专员", groups=["售前咨询"])
    repair = waiting(session, "报修的", intent="repair")
    question = waiting(session, "咨询的", intent="inquiry")
    routing.route(session, NOW)
    assert assignee(session, repair) == repairs.id and assignee(session, question) == sales.id
    session.expire_all()
    assert session.get(Conversation, repair.id).group_name == "物业报修"


def test_working_hours_and_holidays(session: Session):
    group = routing.put_group(session, "售前咨询", {"hours": {"wed": [["09:00", "18:00"]]}, "holidays": ["2026-10-01"]})
    assert routing.is_open(group, NOW)  # Wednesday 11:00 Beijing
    assert not routing.is_open(group, NOW + timedelta(hours=8))  # 19:00
    assert not routing.is_open(group, NOW + timedelta(days=1))  # Thursday: no hours
    assert not routing.is_open(group, datetime(2026, 9, 30, 23, 0, tzinfo=timezone.utc))  # 10-01 07:00 local
    for bad in ({"hours": {"wed": [["18:00", "09:00"]]}}, {"hours": {"someday": []}}, {"holidays": ["10/01"]}):
        with pytest.raises(routing.BadRequest):
            routing.put_group(session, "售前咨询", bad)


def test_a_conversation_someone_holds_is_refused_to_another(session: Session):
    a, b = online(session, "甲"), online(session, "乙")
    conv = waiting(session, "顾客")
    routing.take(session, conv.id, a.id, NOW)
    with pytest.raises(ConversationTaken):
        routing.take(session, conv.id, b.id, NOW)
    assert routing.take(session, conv.id, a.id, NOW).assignee_id == a.id  # idempotent for the holder


def test_many_passes_at_once_assign_each_conversation_once_and_overfill_nobody(migrated_database_url: str):
    """Eight routing passes in parallel threads (each its own connection, as
    two desk processes have) over 100 handoffs and 10 agents of capacity 5."""
    engine = make_engine(migrated_database_url)
    try:
        with Session(engine) as setup:
            team = [online(setup, f"坐席{i}").id for i in range(10)]
            for i in range(100):
                waiting(setup, f"并发顾客{i}")
        barrier = threading.Barrier(8)
        errors: list[BaseException] = []

        def worker() -> None:
            barrier.wait()
            for _ in range(5):
                try:
                    with Session(engine) as own:
                        routing.route(own, NOW)
                except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                    errors.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        with Session(engine) as check:
            rows = check.execute(select(Conversation.assignee_id, Conversation.status)).all()
            held = [agent for agent, _status in rows if agent is not None]
            assert len(held) == 50  # every slot filled, once
            assert all(held.count(agent) == 5 for agent in team)
            assert sum(1 for agent, status in rows if agent is None and status == "waiting") == 50
            assert check.execute(select(SkillGroup)).first() is not None
    finally:
        engine.dispose()


def test_transfer_to_a_colleague_or_a_group_keeps_the_note_internal(session: Session):
    a, b = online(session, "转出的"), online(session, "接手的", capacity=1)
    conv = waiting(session, "被转的")
    routing.take(session, conv.id, a.id, NOW)
    routing.first_answer(session, conv.id, NOW)
    moved = routing.transfer(session, conv.id, agent_id=b.id, note="客户要开发票，已核实订单", by=a.id, now=NOW)
    assert moved.assignee_id == b.id and moved.first_reply_at is None  # b has not answered yet
    [note] = routing.notes_for(session, conv.id)
    assert note["author"] == "转出的" and note["text"] == "转接备注：客户要开发票，已核实订单"
    other = waiting(session, "另一位")
    routing.take(session, other.id, a.id, NOW)
    with pytest.raises(routing.AtCapacity):  # b is full now
        routing.transfer(session, other.id, agent_id=b.id, now=NOW)
    routing.set_status(session, a.id, "away", NOW)
    with pytest.raises(routing.AgentUnavailable):
        routing.transfer(session, conv.id, agent_id=a.id, now=NOW)
    # To a group: back in the queue, in that group, keeping its place.
    queued = routing.transfer(session, conv.id, group="投诉专席", now=NOW)
    assert queued.assignee_id is None and queued.status == "waiting" and queued.group_name == "投诉专席"
    routing.route(session, NOW)  # nobody of 投诉专席 is free (b full, a away): it stays
    session.expire_all()
    assert session.get(Conversation, conv.id).group_name == "投诉专席"
    with pytest.raises(routing.BadRequest):
        routing.transfer(session, conv.id, now=NOW)
    with pytest.raises(routing.NotFound):
        routing.transfer(session, conv.id, group="没有这个组", now=NOW)
    routing.add_note(session, other.id, a.id, "老客户，语气要客气")
    assert [n["text"] for n in routing.notes_for(session, other.id)] == ["老客户，语气要客气"]
    with pytest.raises(routing.BadRequest):
        routing.add_note(session, other.id, a.id, "   ")


def test_an_agent_who_takes_a_conversation_without_going_online_keeps_it(session: Session):
    """The desk's old way (pull from the queue) still works: taking makes the
    agent present and 忙碌, so routing neither requeues it nor adds work."""
    agent, _password = agents.add_agent(session, "只接手动的")
    conv = waiting(session, "手动接入的")
    routing.take(session, conv.id, agent.id, NOW)
    other = waiting(session, "下一位")
    routing.route(session, NOW + timedelta(seconds=1))
    assert assignee(session, conv) == agent.id and assignee(session, other) is None
    assert [a["status"] for a in routing.list_agents(session, now=NOW)] == ["busy"]


def test_a_pass_is_needed_only_while_something_waits_or_is_unanswered(session: Session):
    assert not routing.pending(session)
    conv = waiting(session, "等待中的")
    assert routing.pending(session)
    agent = online(session, "应答的")
    routing.route(session, NOW)
    assert routing.pending(session)  # assigned, not yet answered: its agent may still go
    routing.first_answer(session, conv.id, NOW)
    assert not routing.pending(session)
    assert assignee(session, conv) == agent.id
