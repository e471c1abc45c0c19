"""Rasa's event broker as the desk follows it: the tracker store streams
every new event once (kefu/runtime/tracker_cache.py into
kefu/runtime/event_broker.py), and the desk's feed (kefu/desk/event_feed.py)
reads them in order, keeps its place across restarts and lets one desk
process at a time handle them."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

import sqlalchemy as sa
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered

from kefu.core.db import upgrade
from kefu.desk.event_feed import KEEP_HANDLED, SQLEventFeed
from kefu.runtime.event_broker import KefuSQLEventBroker
from kefu.runtime.tracker_cache import CachedSQLTrackerStore
from tests.support.stack import ROOT

DOMAIN = Domain.load(str(ROOT / "bot" / "domain.yml"))


async def one_turn(store, sender: str, text: str) -> None:
    tracker = await store.get_or_create_tracker(sender)
    for event in (
        UserUttered(text, {"name": "greet", "confidence": 1.0}),
        BotUttered(f"答：{text}"),
        ActionExecuted("action_listen"),
    ):
        tracker.update(event)
    await store.save(tracker)


def desk_db(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'kefu.db'}"
    upgrade(url)
    return url


def user_texts(feed: SQLEventFeed) -> list[tuple[str, str]]:
    return [(e.sender_id, e.event["text"]) for e in feed.read() if e.event.get("event") == "user"]


def test_every_turn_reaches_the_feed_once_in_order_and_a_restarted_desk_goes_on(tmp_path):
    events_db = tmp_path / "events.db"
    desk = desk_db(tmp_path)
    feed = SQLEventFeed(events_db, desk)  # the desk first: it starts at the (empty) end
    broker = KefuSQLEventBroker(dialect="sqlite", db=str(events_db))
    store = CachedSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(tmp_path / "tracker.db"), event_broker=broker)

    async def turns(*said):
        for sender, text in said:
            await one_turn(store, sender, text)

    connections: list[object] = []
    sa.event.listen(broker.engine, "connect", lambda conn, _record: connections.append(conn))
    asyncio.run(turns(("顾客甲", "你好"), ("顾客乙", "在吗"), ("顾客甲", "还要等多久")))
    assert user_texts(feed) == [("顾客甲", "你好"), ("顾客乙", "在吗"), ("顾客甲", "还要等多久")]
    assert len(connections) <= 1  # the broker keeps its connection from turn to turn
    handled = next(e.id for e in feed.read() if e.event.get("text") == "在吗")
    feed.done(handled)  # the desk dies after handling part of them
    feed.close()

    asyncio.run(turns(("顾客乙", "算了")))
    again = SQLEventFeed(events_db, desk)
    assert user_texts(again) == [("顾客甲", "还要等多久"), ("顾客乙", "算了")]
    assert again.cursor() == handled


def test_one_desk_at_a_time_holds_the_feed_and_another_takes_over_when_it_stops(tmp_path):
    desk = desk_db(tmp_path)
    first, second = SQLEventFeed(tmp_path / "e.db", desk), SQLEventFeed(tmp_path / "e.db", desk, lease=0.2)
    assert first.hold() and not second.hold()
    assert first.hold()  # renewing
    first.release()
    assert second.hold() and not first.hold()
    time.sleep(0.3)  # the holder hangs or dies: its short lease runs out ...
    assert first.hold() and not second.hold()  # ... and the other desk takes over


def test_handled_events_are_pruned_but_the_latest(tmp_path):
    events_db = tmp_path / "events.db"
    feed = SQLEventFeed(events_db, desk_db(tmp_path))
    broker = KefuSQLEventBroker(dialect="sqlite", db=str(events_db))
    broker.publish_many({"sender_id": "x", "event": "user", "text": str(i)} for i in range(KEEP_HANDLED + 50))
    last = feed.read(limit=KEEP_HANDLED + 100)[-1].id
    feed.done(last)
    assert feed.prune() == 50
    assert feed.read() == []


AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"


def test_rasas_pika_broker_reaches_one_desk_at_a_time_and_nothing_unacknowledged_is_lost():
    """Rasa's own PikaEventBroker publishing to RabbitMQ (the machine's, with
    a queue and exchange of this test's own), two desks consuming."""
    import aio_pika
    from rasa.core.brokers.pika import PikaEventBroker
    from rasa.utils.endpoints import EndpointConfig

    from kefu.desk.event_feed import AMQPEventFeed

    name = f"kefu-test-{uuid.uuid4().hex[:8]}"

    async def scenario():
        broker = await PikaEventBroker.from_endpoint_config(
            EndpointConfig(url=AMQP_URL, username="guest", password="guest", queues=[name], exchange_name=name)
        )
        first, second = AMQPEventFeed(AMQP_URL, name, name), AMQPEventFeed(AMQP_URL, name, name)
        got_first: list = []
        got_second: list = []

        async def consume(feed, got, stop_after=None):
            async with contextlib.aclosing(feed.messages(idle=0.2)) as items:
                async for item in items:
                    if item is None:
                        continue
                    event, message = item
                    got.append(event.event["text"])
                    if stop_after is not None and len(got) == stop_after:
                        await asyncio.Event().wait()  # hangs before acknowledging this one
                    await feed.done(message)

        try:
            taker = asyncio.create_task(consume(first, got_first, stop_after=2))
            await asyncio.sleep(0.5)  # the first desk holds the queue
            standby = asyncio.create_task(consume(second, got_second))
            for i, text in enumerate(("你好", "还要等多久", "算了", "留言")):
                broker.publish({"sender_id": "顾客甲", "event": "user", "text": text, "timestamp": i})
            for _ in range(100):
                if len(got_first) >= 2:
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)
            assert got_second == []  # the other desk waited its turn
            taker.cancel()
            await first.close()  # the first desk's connection goes: its unacknowledged message comes back
            for _ in range(100):
                if len(got_second) >= 3:
                    break
                await asyncio.sleep(0.1)
            return got_first, got_second
        finally:
            for task in ("standby", "taker"):
                t = locals().get(task)
                if t is not None:
                    t.cancel()
            await second.close()
            await first.close()
            await broker.close()
            connection = await aio_pika.connect(AMQP_URL)
            async with connection:
                channel = await connection.channel()
                await channel.queue_delete(name)
                await channel.exchange_delete(name)

    got_first, got_second = asyncio.run(scenario())
    assert got_first == ["你好", "还要等多久"]
    assert got_second == ["还要等多久", "算了", "留言"]
