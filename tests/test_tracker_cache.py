"""kefu/runtime/tracker_cache.py: the cache saves work, never changes what a
conversation holds, whoever else writes to the store."""

from __future__ import annotations

import asyncio

import pytest
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from kefu.runtime.tracker_cache import CachedSQLTrackerStore
from tests.support.stack import ROOT

DOMAIN = Domain.load(str(ROOT / "bot" / "domain.yml"))


def run(coro):
    return asyncio.run(coro)


def turn(text_: str):
    return [
        UserUttered(text_, {"name": "greet", "confidence": 1.0}),
        BotUttered(f"answer to {text_}"),
        ActionExecuted("action_listen"),
    ]


def texts(tracker) -> list:
    return [e.text for e in tracker.events if isinstance(e, UserUttered)]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=[pytest.mark.e2e, pytest.mark.postgres])])
def db(request, tmp_path) -> dict:
    """The tracker store's settings: a fresh SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return {"dialect": "sqlite", "db": str(tmp_path / "tracker.db")}
    url = make_url(request.getfixturevalue("postgres_url"))
    return {"dialect": "postgresql", "host": url.host, "port": url.port, "db": url.database, "username": url.username}


def store(db: dict, cls=CachedSQLTrackerStore):
    return cls(domain=DOMAIN, **db)


def sql_url(db: dict) -> str:
    return SQLTrackerStore.get_db_url(db["dialect"], db.get("host"), db.get("port"), db["db"], db.get("username"))


async def one_turn(s, sender: str, text_: str) -> None:
    tracker = await s.get_or_create_tracker(sender)
    for event in turn(text_):
        tracker.update(event)
    await s.save(tracker)


def test_a_served_conversation_is_reused_and_equals_what_rasa_would_load(db):
    async def scenario():
        cached = store(db)
        for t in ("一", "二", "三"):
            await one_turn(cached, "c1", t)
        first = await cached.retrieve("c1")
        again = await cached.retrieve("c1")
        plain = await store(db, SQLTrackerStore).retrieve("c1")
        return first, again, plain

    first, again, plain = run(scenario())
    assert again is first  # no reload
    assert texts(first) == texts(plain) == ["一", "二", "三"]
    assert [e.as_dict() for e in first.events] == [e.as_dict() for e in plain.events]


def test_another_server_writing_is_seen_at_once(db):
    async def scenario():
        a, b = store(db), store(db)
        await one_turn(a, "c2", "一")
        await a.retrieve("c2")  # a holds it
        await one_turn(b, "c2", "二")  # failover: b serves a turn
        seen_by_a = texts(await a.retrieve("c2"))
        await one_turn(a, "c2", "三")  # back on a
        return seen_by_a, await store(db, SQLTrackerStore).retrieve("c2")

    seen_by_a, stored = run(scenario())
    assert seen_by_a == ["一", "二"]
    assert texts(stored) == ["一", "二", "三"]


def test_a_turn_that_changed_the_conversation_without_saving_is_forgotten(db):
    async def scenario():
        s = store(db)
        await one_turn(s, "c3", "一")
        tracker = await s.retrieve("c3")
        tracker.update(UserUttered("failed half-way", {"name": "greet", "confidence": 1.0}))
        return await s.retrieve("c3")

    assert texts(run(scenario())) == ["一"]


def test_a_write_during_a_turn_loses_neither_side(db):
    async def scenario():
        a, b = store(db), store(db)
        await one_turn(a, "c4", "一")
        tracker = await a.retrieve("c4")
        await one_turn(b, "c4", "二")  # written while a's turn runs
        for event in turn("三"):
            tracker.update(event)
        await a.save(tracker)
        return await store(db, SQLTrackerStore).retrieve("c4"), await a.retrieve("c4")

    stored, next_turn = run(scenario())
    assert sorted(texts(stored)) == sorted(["一", "二", "三"])  # each once, none lost
    assert texts(next_turn) == texts(stored)  # reloaded, not the stale copy


def test_deleted_conversation_is_not_served_from_memory(db):
    async def scenario():
        s = store(db)
        await one_turn(s, "c5", "一")
        await s.retrieve("c5")
        engine = create_engine(sql_url(db), future=True)
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM events WHERE sender_id = 'c5'"))
        engine.dispose()
        return await s.retrieve("c5")

    assert run(scenario()) is None


def rasa_wrapped(cached):
    """The store as Rasa's agent holds it, FailSafeTrackerStore(AwaitableTrackerStore(...)),
    with the runtime's fix that makes both pass `create_tracker` on."""
    from rasa.core.tracker_store import AwaitableTrackerStore, FailSafeTrackerStore

    from kefu.runtime.rasa_server import _create_tracker_passed_on

    class Awaitable(AwaitableTrackerStore):
        create_tracker = _create_tracker_passed_on(AwaitableTrackerStore.create_tracker)

    class FailSafe(FailSafeTrackerStore):
        create_tracker = _create_tracker_passed_on(FailSafeTrackerStore.create_tracker)

    return FailSafe(Awaitable(cached))


def test_a_new_conversation_is_not_saved_empty_and_a_turn_is_one_insert(tmp_path):
    """Rasa would look a new conversation up with its event queries, save it
    with nothing but action_listen before its first turn, then count the
    stored events and insert them one by one; here a new conversation is
    one query (its newest id) until its first turn stores everything in one
    INSERT, and a later turn costs the newest-id check, one INSERT and the
    id read back. Through Rasa's wrappers, as the server holds the store."""
    from sqlalchemy import event as sa_event

    db = {"dialect": "sqlite", "db": str(tmp_path / "tracker.db")}  # SQLite traces what it runs

    async def scenario():
        cached = store(db)
        wrapped = rasa_wrapped(cached)
        statements: list[str] = []

        def traced(sql: str) -> None:
            if sql.split()[0].upper() in ("SELECT", "INSERT", "UPDATE", "DELETE"):
                statements.append(" ".join(sql.split()))

        # What SQLite itself runs, whether through SQLAlchemy or its DBAPI connection.
        sa_event.listen(cached.engine, "connect", lambda conn, _record: conn.set_trace_callback(traced))
        cached.engine.dispose()
        tracker = await wrapped.get_or_create_tracker("new")
        lookup = list(statements)
        stored_before_turn = await store(db, SQLTrackerStore).retrieve("new")
        for event in turn("你好"):
            tracker.update(event)
        statements.clear()
        await wrapped.save(tracker)
        first_save = list(statements)
        statements.clear()
        await one_turn(wrapped, "new", "在吗")  # retrieve (cached) and save
        plain = await store(db, SQLTrackerStore).retrieve("new")
        return lookup, stored_before_turn, first_save, statements, plain

    lookup, stored_before_turn, first_save, statements, plain = run(scenario())
    assert lookup == ["SELECT max(id) FROM events WHERE sender_id = 'new'"]
    assert stored_before_turn is None  # nothing stored before the first turn
    assert texts(plain) == ["你好", "在吗"]
    for saved in (first_save, statements):
        verbs = [sql.split()[0].upper() for sql in saved]
        assert verbs.count("INSERT") == 1 and verbs.count("SELECT") <= 3, saved
        assert not any("count(" in sql.lower() for sql in saved), saved
