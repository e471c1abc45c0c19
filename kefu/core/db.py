"""Engine creation and schema migrations for the desk database."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import QueuePool

T = TypeVar("T")
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def _sqlite_directory(url: str) -> None:
    """A SQLite file's directory, made private (customers' data) when new."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(mode=0o700, parents=True, exist_ok=True)


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        _sqlite_directory(url)
        # Desk and action server write the same file: wait for locks instead
        # of failing, and let readers run beside a writer (WAL). A file
        # database keeps its connections (SQLAlchemy 1.4 would open and close
        # one per session, with these pragmas each time): the worker threads
        # of ThreadedSessions take turns with them.
        in_memory = parsed.database in (None, "", ":memory:")
        engine = create_engine(
            url,
            future=True,
            connect_args={"timeout": 30, **({} if in_memory else {"check_same_thread": False})},
            **({} if in_memory else {"poolclass": QueuePool, "pool_size": 5, "max_overflow": 10}),
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # With WAL, NORMAL syncs at checkpoints, not at every commit: a
            # power cut may lose the last commits, never corrupt the file.
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, future=True, pool_pre_ping=True)


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str) -> None:
    """Bring the schema to the newest migration (idempotent)."""
    _sqlite_directory(url)
    command.upgrade(alembic_config(url), "head")


class ThreadedSessions:
    """Runs blocking store calls in a worker thread, each with its own session.

    Async servers (action server, Rasa channels, the desk) share the desk
    database this way without blocking their event loop. The engine is made
    on first use, from the URL given or KEFU_DATABASE_URL (or a sessionmaker
    is given: its owner disposes of the engine).
    """

    def __init__(self, url: str | None = None, factory: sessionmaker | None = None) -> None:
        self._url = url
        self._factory: sessionmaker | None = factory

    def _sessions(self) -> sessionmaker:
        if self._factory is None:
            from kefu.core.settings import load_settings

            url = self._url or load_settings().database_url
            self._factory = sessionmaker(make_engine(url), expire_on_commit=False, future=True)
        return self._factory

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        factory = self._sessions()

        def call() -> T:
            with factory() as session:
                return fn(session, *args, **kwargs)

        return await asyncio.to_thread(call)

    def dispose(self) -> None:
        if self._factory is not None:
            self._factory.kw["bind"].dispose()
