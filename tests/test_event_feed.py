"""Rasa's event broker as the desk follows it: the tracker store streams
every new event once (kefu/runtime/tracker_cache.py into
kefu/runtime/event_broker.py), and the desk's feed (kefu/desk/event_feed.py)
reads them in order, keeps its place across restarts and lets one desk
process at a time handle them."""

from __future__ import annotations

import asyncio
import time

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

    # The first save of a conversation is Rasa's own; later ones are the cache's.
    asyncio.run(turns(("顾客甲", "你好"), ("顾客乙", "在吗"), ("顾客甲", "还要等多久")))
    assert user_texts(feed) == [("顾客甲", "你好"), ("顾客乙", "在吗"), ("顾客甲", "还要等多久")]
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
