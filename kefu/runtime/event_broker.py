"""Rasa's SQL event broker, as the desk reads it: every event of every
conversation, in order, in a SQLite file of its own (the desk's waiting
room and live pages follow it instead of polling each conversation).

Rasa's SQLEventBroker commits each event on its own, through the ORM, on
a connection opened for it (SQLAlchemy 1.4 gives a SQLite file a NullPool):
about 3 ms of the Rasa process's CPU per message (issue 16). Here the
connection is kept (Rasa publishes from its event-loop thread only), and a
turn's events, which come from one tracker save
(kefu.runtime.tracker_cache), go in by `publish_many`: one executemany in
one transaction. The file is in WAL mode with
synchronous=NORMAL: the desk reads while Rasa writes, and a power cut may
lose the newest events of the broker, never of the conversation (the
tracker store keeps those). Its own file because SQLEventBroker's table is
called `events`, as the tracker store's is.

`type: kefu.runtime.event_broker.KefuSQLEventBroker` in bot/endpoints*.yml.
"""

from __future__ import annotations

import json
from asyncio import AbstractEventLoop
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm
from rasa.core.brokers.sql import SQLEventBroker
from rasa.utils.endpoints import EndpointConfig
from sqlalchemy.pool import SingletonThreadPool


def _wal(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


class KefuSQLEventBroker(SQLEventBroker):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if self.engine.dialect.name == "sqlite":
            url = self.engine.url
            self.engine.dispose()
            self.engine = sa.create_engine(url, poolclass=SingletonThreadPool)
            sa.event.listen(self.engine, "connect", _wal)
            self.sessionmaker = sa.orm.sessionmaker(bind=self.engine)
        self._insert = self.SQLBrokerEvent.__table__.insert()

    @classmethod
    async def from_endpoint_config(
        cls, broker_config: EndpointConfig, event_loop: AbstractEventLoop | None = None
    ) -> KefuSQLEventBroker:
        return cls(host=broker_config.url, **broker_config.kwargs)

    def publish_many(self, events: Iterable[dict[str, Any]]) -> None:
        rows = [{"sender_id": e.get("sender_id"), "data": json.dumps(e)} for e in events]
        if not rows:
            return
        with self.engine.begin() as connection:
            connection.execute(self._insert, rows)
