"""The desk's waiting room: customers in the queue are answered while the
bot is paused (kefu.core.waiting decides what to say).

It follows Rasa's event broker (kefu.desk.event_feed): each message a
waiting customer sends is read once, in order, and answered on the
customer's own channel; a customer who leaves the queue (不用了, or a
留言 turned into a ticket) gets the bot back (Rasa's ConversationResumed).
Once a second it also says what is due by itself: a new position, 留言
offered again after a long wait. One desk process at a time does all this
(the feed's lease).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone

from aiohttp import web

from kefu.core import waiting
from kefu.desk.event_feed import AMQPEventFeed, FeedEvent, SQLEventFeed
from kefu.desk.rasa_client import RasaUnavailable
from kefu.desk.requests import RASA, SETTINGS, STORE

log = logging.getLogger(__name__)
READ_EVERY = 0.2  # seconds between two looks at the feed while nothing is new
DUE_EVERY = 1.0  # seconds between two looks for news to tell
PRUNE_EVERY = 600.0
RESUME_TRIES = 5


async def deliver(app: web.Application, reply: waiting.Reply) -> None:
    """Say the reply on the customer's channel; resume the bot if they left
    the queue (retried: a customer whose bot stayed paused would get no
    answer from anyone)."""
    try:
        await app[RASA].say(reply.customer_id, reply.text, reply.channel)
    except RasaUnavailable as exc:
        log.warning("waiting-room reply to %s not delivered: %s", reply.customer_id, exc)
    if not reply.resume:
        return
    for attempt in range(RESUME_TRIES):
        try:
            await app[RASA].resume(reply.customer_id)
            return
        except RasaUnavailable as exc:
            log.warning("resuming the bot for %s failed (%s); try %d", reply.customer_id, exc, attempt + 1)
            await asyncio.sleep(0.5 * 2**attempt)
    log.error("the bot for %s stays paused: Rasa did not take the resume", reply.customer_id)


def _sent_at(event: dict) -> datetime:
    try:
        return datetime.fromtimestamp(float(event.get("timestamp") or 0), tz=timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return datetime.fromtimestamp(0, tz=timezone.utc)


async def hear(app: web.Application, item: FeedEvent) -> bool:
    """One event from the feed: a waiting customer's message gets its
    answer. Whether anything was said."""
    event = item.event
    if event.get("event") != "user" or not item.sender_id:
        return False
    settings = app[SETTINGS]
    reply = await app[STORE].run(
        waiting.on_message,
        item.sender_id,
        str(event.get("text") or ""),
        _sent_at(event),
        # Names the message however it arrives (again after a restart, or
        # through another feed): the same message never makes two tickets.
        f"{item.sender_id}@{event.get('timestamp')}",
        None,
        timedelta(seconds=settings.presence_timeout),
        timedelta(seconds=settings.wait_notice_every),
    )
    if reply is None:
        return False
    await deliver(app, reply)
    return True


async def tell_due(app: web.Application) -> None:
    settings = app[SETTINGS]
    for reply in await app[STORE].run(
        waiting.due,
        None,
        timedelta(seconds=settings.presence_timeout),
        timedelta(seconds=settings.wait_notice_every),
        timedelta(seconds=settings.wait_offer_after),
    ):
        await deliver(app, reply)


async def follow(app: web.Application, feed: SQLEventFeed) -> None:
    """Read and answer the feed while this desk holds its lease."""
    loop = asyncio.get_running_loop()
    last_due, last_prune = 0.0, loop.time()
    while True:
        try:
            batch: list[FeedEvent] = []
            if await asyncio.to_thread(feed.hold):
                batch = await asyncio.to_thread(feed.read)
                for item in batch:
                    # The cursor moves past an answered message at once (a
                    # restart never answers it twice), past the rest per batch.
                    if await hear(app, item):
                        await asyncio.to_thread(feed.done, item.id)
                if batch:
                    await asyncio.to_thread(feed.done, batch[-1].id)
                # News only once the customers' own messages are all read: a
                # desk catching up must not offer 留言 to one who left.
                if not batch and loop.time() - last_due >= DUE_EVERY:
                    last_due = loop.time()
                    await tell_due(app)
                if loop.time() - last_prune >= PRUNE_EVERY:
                    last_prune = loop.time()
                    await asyncio.to_thread(feed.prune)
        except asyncio.CancelledError:
            raise
        except Exception:  # one bad pass (a database away for a moment) must not end the waiting room
            log.exception("waiting room pass failed; trying again")
            batch = []
            await asyncio.sleep(1.0)
        if not batch:
            await asyncio.sleep(READ_EVERY)


async def follow_amqp(app: web.Application, feed: AMQPEventFeed) -> None:
    """Consume and answer RabbitMQ's queue while this desk holds it."""
    loop = asyncio.get_running_loop()
    last_due = 0.0
    while True:
        try:
            async with contextlib.aclosing(feed.messages()) as messages:
                async for got in messages:
                    if got is not None:
                        item, message = got
                        await hear(app, item)
                        await feed.done(message)
                    elif loop.time() - last_due >= DUE_EVERY:  # caught up: the news
                        last_due = loop.time()
                        await tell_due(app)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # RabbitMQ or the database away: start again (unacknowledged messages come back)
            log.warning("waiting room (RabbitMQ) stopped: %s: %s; trying again", exc.__class__.__name__, exc)
            await feed.close()
            await asyncio.sleep(1.0)


async def waiting_room(app: web.Application) -> AsyncIterator[None]:
    """aiohttp cleanup context: the waiting room runs while the desk does,
    on RabbitMQ when KEFU_AMQP_URL is set, else on the SQLite event file."""
    settings = app[SETTINGS]
    if settings.amqp_url:
        amqp = AMQPEventFeed(settings.amqp_url, settings.amqp_queue, settings.amqp_exchange)
        task = asyncio.create_task(follow_amqp(app, amqp))
    else:
        feed = await asyncio.to_thread(SQLEventFeed, settings.events_db, settings.database_url)
        task = asyncio.create_task(follow(app, feed))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    if settings.amqp_url:
        await amqp.close()
    else:
        await asyncio.to_thread(feed.release)
        feed.close()
