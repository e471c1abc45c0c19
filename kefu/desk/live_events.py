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
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

from aiohttp import web

from kefu.desk.event_feed import SQLEventTail, amqp_tail
from kefu.desk.requests import SETTINGS

log = logging.getLogger(__name__)
TAIL_EVERY = 0.1  # seconds between two looks at the SQLite event file
FALLBACK_SECONDS = 10.0  # a watched conversation is read at least this often anyway
LATEST_KEPT = 5000  # customers whose newest message a desk process remembers


class Watcher:
    """One live page: the conversation it watches, woken when it changes."""

    def __init__(self) -> None:
        self.customer_id: str | None = None
        self.stale = True  # read the turns on the next pass
        self.wake = asyncio.Event()

    def poke(self) -> None:
        self.stale = True
        self.wake.set()


@dataclass
class Latest:
    """A customer's newest message as this desk process saw it go by."""

    text: str
    at: float
    count: int  # customer messages seen since the desk started: pages count unread from it


class LiveHub:
    def __init__(self) -> None:
        self.watchers: set[Watcher] = set()
        self.latest: OrderedDict[str, Latest] = OrderedDict()

    def changed(self, customer_id: str, event: dict | None = None) -> None:
        if event is not None and event.get("event") == "user":
            seen = self.latest.pop(customer_id, None)
            self.latest[customer_id] = Latest(
                str(event.get("text") or "[图片/文件]"),
                float(event.get("timestamp") or 0),
                (seen.count if seen else 0) + 1,
            )
            while len(self.latest) > LATEST_KEPT:
                self.latest.popitem(last=False)
        for watcher in self.watchers:
            if watcher.customer_id == customer_id:
                watcher.poke()

    def decorate(self, conversation: dict) -> dict:
        """A queue entry with the customer's newest message and its counter."""
        seen = self.latest.get(conversation["customer_id"])
        if seen is None:
            return {**conversation, "latest_text": None, "latest_at": None, "customer_messages": 0}
        return {**conversation, "latest_text": seen.text, "latest_at": seen.at, "customer_messages": seen.count}

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
            for sender, event in await asyncio.to_thread(tail.changes):
                hub.changed(sender, event)
        except Exception as exc:  # the file busy for a moment: the pages fall back to reading
            log.warning("live events: %s", exc.__class__.__name__)
            await asyncio.sleep(1.0)
        await asyncio.sleep(TAIL_EVERY)


async def _follow_amqp(hub: LiveHub, url: str, exchange: str) -> None:
    while True:
        try:
            async with contextlib.aclosing(amqp_tail(url, exchange)) as senders:
                async for sender, event in senders:
                    hub.changed(sender, event)
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
