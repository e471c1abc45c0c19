"""The desk database's engine (kefu/core/db.py): a SQLite file keeps its
connections between sessions (no connect, no pragmas per call) with WAL and
synchronous=NORMAL, and worker threads take turns with them."""

from __future__ import annotations

import asyncio

from sqlalchemy import event, text

from kefu.core.db import ThreadedSessions, make_engine, upgrade


def test_a_sqlite_file_keeps_its_connections_across_sessions_and_threads(tmp_path):
    url = f"sqlite:///{tmp_path / 'kefu.db'}"
    upgrade(url)
    store = ThreadedSessions(url)
    engine = store._sessions().kw["bind"]
    connects = []
    event.listen(engine, "connect", lambda *_: connects.append(1))

    def pragmas(session):
        return (
            session.execute(text("PRAGMA journal_mode")).scalar(),
            session.execute(text("PRAGMA synchronous")).scalar(),
        )

    async def many():
        return await asyncio.gather(*(store.run(pragmas) for _ in range(50)))

    results = asyncio.run(many())
    assert set(results) == {("wal", 1)}  # 1 = NORMAL
    assert 1 <= len(connects) <= 15  # at most one per worker thread at once, not one per call
    asyncio.run(many())
    # The next 50 calls reuse the pool's five; only connections beyond it
    # (one per thread over five at once) are made again. NullPool: 100.
    assert len(connects) <= 25
    store.dispose()


def test_an_in_memory_database_is_left_as_sqlalchemy_makes_it():
    engine = make_engine("sqlite://")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1
    engine.dispose()
