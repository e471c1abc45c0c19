"""The desk's view of Rasa's event broker: every event of every
conversation, in order. Embedded: from the SQLite file Rasa's SQL event
broker writes (kefu.runtime.event_broker, SQLEventFeed). Scaled: from
RabbitMQ, where Rasa's Pika broker publishes (AMQPEventFeed, at the end).

The feed's cursor (the newest event handled) is kept in the desk database,
so a desk that restarts goes on from where it stopped: no customer turn is
missed, and none handled twice unless the desk died between handling one
and saving the cursor (then that one is handled again). A desk that starts
on a file it never read begins at the newest event: what was said before it
ever ran is not news.

Several desk processes share the feed through a lease in the same row: only
the holder reads and handles events, renewing the lease as it goes; if it
dies or hangs, another takes over once the lease runs out and goes on from
the saved cursor. The desk only reads the events file (WAL: never blocking
Rasa's writes) except to prune old events now and then, so a hung desk
never stops Rasa from storing a turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from kefu.core.db import make_engine
from kefu.core.models import FeedCursor

log = logging.getLogger(__name__)
KEEP_HANDLED = 10_000  # handled events kept (a look back for whoever debugs); older ones are pruned
LEASE_SECONDS = 10.0

_meta = sa.MetaData()
# As Rasa's SQLEventBroker declares it; created here too, so the desk may
# start before Rasa has written anything.
_events = sa.Table(
    "events",
    _meta,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sender_id", sa.String(255)),
    sa.Column("data", sa.Text),
)
_cursors = FeedCursor.__table__


@dataclass(frozen=True)
class FeedEvent:
    id: int
    sender_id: str
    event: dict[str, Any]


class SQLEventFeed:
    """Blocking calls: the desk runs them in a thread. `database_url`: the
    desk database, which keeps the cursor and the lease."""

    def __init__(self, path: Path, database_url: str, name: str = "desk", lease: float = LEASE_SECONDS) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.lease = lease
        self.me = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._held_until = 0.0
        self.events = make_engine(f"sqlite:///{path}")  # WAL, busy timeout: as the desk database
        _meta.create_all(self.events)
        self.desk = make_engine(database_url)
        with self.events.connect() as conn:
            newest = conn.execute(sa.select(sa.func.max(_events.c.id))).scalar() or 0
        # Another desk process may make the row first: then theirs stands.
        with contextlib.suppress(sa.exc.IntegrityError), self.desk.begin() as conn:
            if conn.execute(sa.select(_cursors.c.last_id).where(_cursors.c.name == name)).first() is None:
                conn.execute(_cursors.insert().values(name=name, last_id=newest))

    def hold(self) -> bool:
        """Take or renew the lease; False while another desk holds it.
        Renewed only when half of it has run: no write on every pass."""
        now = time.time()
        if self._held_until - now > self.lease / 2:
            return True
        with self.desk.begin() as conn:
            taken = conn.execute(
                _cursors.update()
                .where(
                    _cursors.c.name == self.name,
                    sa.or_(_cursors.c.holder.is_(None), _cursors.c.holder == self.me, _cursors.c.held_until < now),
                )
                .values(holder=self.me, held_until=now + self.lease)
            ).rowcount
        self._held_until = now + self.lease if taken else 0.0
        return bool(taken)

    def release(self) -> None:
        self._held_until = 0.0
        with self.desk.begin() as conn:
            conn.execute(
                _cursors.update()
                .where(_cursors.c.name == self.name, _cursors.c.holder == self.me)
                .values(holder=None, held_until=None)
            )

    def cursor(self) -> int:
        with self.desk.connect() as conn:
            return int(conn.execute(sa.select(_cursors.c.last_id).where(_cursors.c.name == self.name)).scalar_one())

    def read(self, limit: int = 200) -> list[FeedEvent]:
        """The next events after the cursor, oldest first."""
        after = self.cursor()
        with self.events.connect() as conn:
            rows = conn.execute(
                sa.select(_events.c.id, _events.c.sender_id, _events.c.data)
                .where(_events.c.id > after)
                .order_by(_events.c.id)
                .limit(limit)
            ).all()
        found = []
        for row_id, sender_id, data in rows:
            try:
                event = json.loads(data)
            except (TypeError, ValueError):
                log.warning("event %d is not JSON; skipped", row_id)
                event = {}
            found.append(FeedEvent(row_id, sender_id or "", event if isinstance(event, dict) else {}))
        return found

    def done(self, event_id: int) -> None:
        """Handled up to and including `event_id` (only by the lease's holder)."""
        with self.desk.begin() as conn:
            conn.execute(
                _cursors.update()
                .where(_cursors.c.name == self.name, _cursors.c.last_id < event_id)
                .values(last_id=event_id)
            )

    def prune(self) -> int:
        """Drop handled events but the latest KEEP_HANDLED."""
        last = self.cursor()
        with self.events.begin() as conn:
            return conn.execute(_events.delete().where(_events.c.id <= last - KEEP_HANDLED)).rowcount or 0

    def close(self) -> None:
        self.events.dispose()
        self.desk.dispose()


class AMQPEventFeed:
    """Rasa's Pika event broker (the scaled profile): the durable queue
    Rasa publishes every event to, consumed by one desk process at a time
    (an exclusive consumer; another desk retries until the holder's
    connection goes). A message is acknowledged once handled, so one left
    unacknowledged by a desk that died, or sent while the desk was away, is
    delivered again; RabbitMQ keeps the queue and its persistent messages
    across its own restarts, and Rasa keeps what it could not publish
    meanwhile and sends it on reconnecting."""

    RETRY_SECONDS = 2.0

    def __init__(self, url: str, queue: str, exchange: str) -> None:
        self.url, self.queue_name, self.exchange_name = url, queue, exchange
        self._connection: Any = None
        self._channel: Any = None

    async def messages(self, idle: float = 1.0) -> AsyncIterator[tuple[FeedEvent, Any] | None]:
        """(event, message) in order, while this desk holds the queue; None
        whenever it has caught up (nothing waiting in the queue), at least
        every `idle` seconds. Acknowledge with `done(message)`. Another desk
        holding the queue: waits, yielding nothing. Use it inside
        contextlib.aclosing, so a consumer that stops closes the channel at
        once (and its unacknowledged messages go to the next desk)."""
        import aio_pika
        from aiormq.exceptions import ChannelAccessRefused, ChannelLockedResource

        if self._connection is None:
            self._connection = await aio_pika.connect(self.url)
        while True:
            channel = self._channel = await self._connection.channel()
            try:
                await channel.set_qos(prefetch_count=200)
                # As Rasa declares them, so either may start first.
                exchange = await channel.declare_exchange(self.exchange_name, aio_pika.ExchangeType.FANOUT)
                queue = await channel.declare_queue(self.queue_name, durable=True)
                await queue.bind(exchange, "")
                inbox: asyncio.Queue = asyncio.Queue()
                await queue.consume(inbox.put, exclusive=True)
            except (ChannelAccessRefused, ChannelLockedResource):
                # Another desk process consumes: wait for it to go.
                with contextlib.suppress(Exception):
                    await channel.close()
                await asyncio.sleep(self.RETRY_SECONDS)
                continue
            try:
                while True:
                    try:
                        message = await asyncio.wait_for(inbox.get(), timeout=idle)
                    except asyncio.TimeoutError:
                        if channel.is_closed or self._connection.is_closed:
                            # RabbitMQ restarted or the network went: the caller
                            # closes and starts again (unacknowledged messages come back).
                            raise ConnectionError("the RabbitMQ connection was lost")
                        yield None
                        continue
                    yield self._event(message), message
                    if inbox.empty():
                        yield None
            finally:
                with contextlib.suppress(Exception):
                    await channel.close()

    @staticmethod
    def _event(message: Any) -> FeedEvent:
        try:
            event = json.loads(message.body)
        except (TypeError, ValueError):
            log.warning("a broker message is not JSON; skipped")
            event = {}
        event = event if isinstance(event, dict) else {}
        return FeedEvent(int(message.delivery_tag or 0), str(event.get("sender_id") or ""), event)

    async def done(self, message: Any) -> None:
        await message.ack()

    async def close(self) -> None:
        # The channel first: a consumer left suspended would otherwise hold
        # the connection's close for a minute.
        for closing in (self._channel, self._connection):
            if closing is not None and not closing.is_closed:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(closing.close(), timeout=5)
        self._channel = self._connection = None


class SQLEventTail:
    """Every desk process's own look at the events as they come (for its
    live pages), from the newest one on: no cursor, no lease."""

    def __init__(self, path: Path) -> None:
        self.engine = make_engine(f"sqlite:///{path}")
        _meta.create_all(self.engine, tables=[_events])
        with self.engine.connect() as conn:
            self.last = int(conn.execute(sa.select(sa.func.max(_events.c.id))).scalar() or 0)

    def changes(self, limit: int = 1000) -> list[tuple[str, dict[str, Any]]]:
        """(conversation, event) for every event since the last call."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(_events.c.id, _events.c.sender_id, _events.c.data)
                .where(_events.c.id > self.last)
                .order_by(_events.c.id)
                .limit(limit)
            ).all()
        if rows:
            self.last = rows[-1][0]
        found = []
        for _id, sender, data in rows:
            try:
                event = json.loads(data)
            except (TypeError, ValueError):
                event = {}
            if sender:
                found.append((sender, event if isinstance(event, dict) else {}))
        return found

    def close(self) -> None:
        self.engine.dispose()


async def amqp_tail(url: str, exchange: str) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """Every desk process's own copy of the events on RabbitMQ (a queue of
    its own, gone with its connection): (conversation, event)."""
    import aio_pika

    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        fanout = await channel.declare_exchange(exchange, aio_pika.ExchangeType.FANOUT)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(fanout, "")
        async with queue.iterator(no_ack=True) as messages:
            async for message in messages:
                try:
                    event = json.loads(message.body)
                    sender = event.get("sender_id")
                except (TypeError, ValueError, AttributeError):
                    continue
                if sender:
                    yield str(sender), event
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(connection.close(), timeout=5)
