"""Ticket creation is idempotent per incoming message, also under races."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session as _Session

from kefu.core.db import make_engine
from kefu.core.models import Ticket
from kefu.core.tickets import NewTicket, TicketAlreadyOwned, create_ticket, take_ticket


def Session(engine):  # noqa: N802 - reads like SQLAlchemy's own
    # Objects stay readable after the block, as in the desk and action server.
    return _Session(engine, expire_on_commit=False)


def new_ticket(message_id: str = "m-1", customer: str = "rest:alice") -> NewTicket:
    return NewTicket(
        channel="rest",
        customer_id=customer,
        intent="complaint",
        category="物流",
        summary="物流太慢",
        opening_message="物流太慢了",
        source_message_id=message_id,
        reply_hours=2,
    )


@pytest.fixture()
def engine(migrated_database_url):
    engine = make_engine(migrated_database_url)
    yield engine
    engine.dispose()


def count(engine) -> int:
    with Session(engine) as session:
        return session.execute(select(func.count()).select_from(Ticket)).scalar_one()


def test_same_message_twice_gives_one_ticket(engine):
    with Session(engine) as session:
        first, created_first = create_ticket(session, new_ticket())
        second, created_second = create_ticket(session, new_ticket())
    assert created_first and not created_second
    assert first.id == second.id
    assert count(engine) == 1


def test_other_message_gives_other_ticket(engine):
    with Session(engine) as session:
        a, _ = create_ticket(session, new_ticket("m-1"))
        b, _ = create_ticket(session, new_ticket("m-2"))
    assert a.id != b.id and count(engine) == 2


def test_concurrent_retries_create_one_ticket(engine):
    ids, errors = [], []
    barrier = threading.Barrier(8)

    def worker():
        try:
            barrier.wait()
            with Session(engine) as session:
                ticket, _ = create_ticket(session, new_ticket("m-race"))
                ids.append(ticket.id)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(set(ids)) == 1 and count(engine) == 1


def test_due_time_follows_reply_promise(engine):
    with Session(engine) as session:
        ticket, _ = create_ticket(session, new_ticket())
    assert (ticket.due_at - ticket.created_at).total_seconds() == 2 * 3600
    assert ticket.created_at.tzinfo is not None


def test_first_agent_to_take_a_ticket_owns_it(engine):
    from kefu.core.agents import add_agent

    with Session(engine) as session:
        ticket, _ = create_ticket(session, new_ticket())
        alice, _ = add_agent(session, "alice")
        bob, _ = add_agent(session, "bob")
        taken = take_ticket(session, ticket.id, alice.id)
        assert taken.owner_id == alice.id and taken.status == "in_progress"
        with pytest.raises(TicketAlreadyOwned):
            take_ticket(session, ticket.id, bob.id)
        assert take_ticket(session, ticket.id, alice.id).owner_id == alice.id
        assert take_ticket(session, 999_999, alice.id) is None


def test_waiting_queue_follows_the_seed_order(migrated_database_url, tmp_path, monkeypatch):
    """Urgent first, then important customers, then those who rarely ask, then the longest wait."""
    from sqlalchemy.orm import Session as S

    from kefu.core.conversations import list_conversations, record_handoff, return_to_bot
    from kefu.core.db import make_engine

    important = tmp_path / "vip.yml"
    important.write_text("- wechat:vip\n", encoding="utf-8")
    monkeypatch.setenv("KEFU_IMPORTANT_CUSTOMERS", str(important))
    with S(make_engine(migrated_database_url), future=True, expire_on_commit=False) as s:
        # "often" asked three times before; each earlier conversation was closed.
        for _ in range(3):
            c = record_handoff(
                s, channel="wechat", customer_id="wechat:often", intent="inquiry", reason="asked", last_message="?"
            )
            return_to_bot(s, c.id)
            c.status = "closed"
            s.commit()
        for customer, priority in (
            ("wechat:often", "normal"),
            ("wechat:rare", "normal"),
            ("wechat:vip", "normal"),
            ("wechat:fire", "urgent"),
        ):
            record_handoff(
                s,
                channel="wechat",
                customer_id=customer,
                intent="repair",
                reason="asked",
                last_message="!",
                priority=priority,
            )
        order = [c.customer_id for c in list_conversations(s, "waiting")]
    assert order == ["wechat:fire", "wechat:vip", "wechat:rare", "wechat:often"]


def test_ticket_numbers_are_never_reused_after_the_newest_tickets_are_deleted(engine):
    from kefu.core.customer_data import erase

    with Session(engine) as session:
        kept, _ = create_ticket(session, new_ticket("m-1", customer="rest:kept"))
        newest = [create_ticket(session, new_ticket(f"m-{n}", customer="rest:leaving"))[0].id for n in (2, 3)]
        erase(session, "rest:leaving")
        after, _ = create_ticket(session, new_ticket("m-4", customer="rest:next"))
    assert kept.id < newest[0] < newest[1] < after.id


def test_migration_0013_keeps_every_ticket_and_its_history(tmp_path):
    from alembic import command
    from sqlalchemy import text

    from kefu.core.db import alembic_config, upgrade

    url = f"sqlite:///{tmp_path / 'old.db'}"
    command.upgrade(alembic_config(url), "0011")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tickets (id, channel, customer_id, intent, category, priority, status, "
                "summary, opening_message, source_message_id, created_at, due_at, updated_at) "
                "VALUES (:id, 'rest', :customer, 'complaint', '物流', 'normal', 'new', 's', 'o', :id, "
                "'2026-11-30 00:00:00', '2026-11-30 02:00:00', '2026-11-30 00:00:00')"
            ),
            [{"id": 1, "customer": "rest:kept"}, {"id": 7, "customer": "rest:leaving"}],
        )
        conn.execute(text("INSERT INTO ticket_events (ticket_id, at, note) VALUES (7, '2026-11-30 01:00:00', '受理')"))
    upgrade(url)
    with engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM ticket_events WHERE ticket_id = 7")).scalar_one() == 1
        conn.execute(text("DELETE FROM ticket_events"))
        conn.execute(text("DELETE FROM tickets WHERE id = 7"))
    with Session(engine) as session:
        after, _ = create_ticket(session, new_ticket("m-new", customer="rest:next"))
    engine.dispose()
    assert after.id == 8
