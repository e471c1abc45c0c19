"""Live pages woken by Rasa's events instead of reading every watched
conversation once a second.

Every desk process follows the events itself (SQLite file: SQLEventTail;
RabbitMQ: a queue of its own bound to Rasa's exchange) and wakes the pages
watching a conversation that changed; they then read its new turns once.
A page still reads them every FALLBACK_SECONDS, so an event lost on the
way (the broker away for a moment) delays a turn, never hides it; and a
page that reconnects asks for everything after its last turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator

from aiohttp import web

from kefu.desk.event_feed import SQLEventTail, amqp_tail
from kefu.desk.requests import SETTINGS

log = logging.getLogger(__name__)
TAIL_EVERY = 0.1  # seconds between two looks at the SQLite event file
FALLBACK_SECONDS = 10.0  # a watched conversation is read at least this often anyway


class Watcher:
    """One live page: the conversation it watches, woken when it changes."""

    def __init__(self) -> None:
        self.customer_id: str | None = None
        self.stale = True  # read the turns on the next pass
        self.wake = asyncio.Event()

    def poke(self) -> None:
        self.stale = True
        self.wake.set()


class LiveHub:
    def __init__(self) -> None:
        self.watchers: set[Watcher] = set()

    def changed(self, customer_id: str) -> None:
        for watcher in self.watchers:
            if watcher.customer_id == customer_id:
                watcher.poke()

    @contextlib.contextmanager
    def watching(self, watcher: Watcher) -> Iterator[Watcher]:
        self.watchers.add(watcher)
        try:
            yield watcher
        finally:
            self.watchers.discard(watcher)


HUB = web.AppKey("live_hub", LiveHub)


async def _follow_sql(hub: LiveHub, tail: SQLEventTail) -> None:
    while True:
        try:
            for sender in await asyncio.to_thread(tail.senders):
                hub.changed(sender)
        except Exception as exc:  # the file busy for a moment: the pages fall back to reading
            log.warning("live events: %s", exc.__class__.__name__)
            await asyncio.sleep(1.0)
        await asyncio.sleep(TAIL_EVERY)


async def _follow_amqp(hub: LiveHub, url: str, exchange: str) -> None:
    while True:
        try:
            async with contextlib.aclosing(amqp_tail(url, exchange)) as senders:
                async for sender in senders:
                    hub.changed(sender)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # RabbitMQ away: the pages fall back to reading until it is back
            log.warning("live events (RabbitMQ): %s: %s", exc.__class__.__name__, exc)
            await asyncio.sleep(2.0)


async def live_events(app: web.Application) -> AsyncIterator[None]:
    """aiohttp cleanup context: the hub and its follower run while the desk does."""
    settings = app[SETTINGS]
    hub = app[HUB] = LiveHub()
    tail = None
    if settings.amqp_url:
        task = asyncio.create_task(_follow_amqp(hub, settings.amqp_url, settings.amqp_exchange))
    else:
        tail = await asyncio.to_thread(SQLEventTail, settings.events_db)
        task = asyncio.create_task(_follow_sql(hub, tail))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    if tail is not None:
        tail.close()
