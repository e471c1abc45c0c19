"""Rasa's SQL tracker store, with the conversations a server is serving kept
in memory between turns.

Rasa's SQLTrackerStore rebuilds a conversation from every stored event for
each message (load, JSON-decode, replay) and counts the stored events again
before each save: about 30 % of a Rasa server's CPU per message in
bench/chat_load.py. With each conversation routed to one server (the scaled
profile's nginx) and one Rasa process in the embedded profile, the server
usually holds the newest state already.

The cache is a shortcut, never the truth: before reusing a conversation it
asks the database for the conversation's newest event id (one indexed
query). Any other writer (another Rasa server after a failover, an export or
deletion by `kefu customer`) changes that id and the conversation is loaded
from the database as before. A turn that changed the conversation without
saving it (it failed half-way) is detected by its event count and reloaded.
Saves append only this server's new events, as Rasa's own save does, under
Rasa's per-conversation lock: the newest-id check in plain SQL, the turn's
events in one multi-row INSERT, no count of stored events; a brand-new
conversation costs one query (its newest id: none) and is not saved empty
first (its first turn stores it). Rasa wraps every tracker store in a
FailSafeTrackerStore and an AwaitableTrackerStore, which do not pass
`create_tracker` on: kefu.runtime.rasa_server makes them do so. Each
turn's new events go to the event broker after the commit.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

logger = logging.getLogger(__name__)
DEFAULT_CACHE_SIZE = 2000
ROWS_PER_INSERT = 100
_COLUMNS = ("sender_id", "type_name", "timestamp", "intent_name", "action_name", "data")


@dataclass
class _Entry:
    tracker: DialogueStateTracker
    last_id: int | None  # newest stored event id of this conversation (None: none stored yet)
    stored: int  # len(tracker.events) that is in the database
    fresh: int = 0  # events of a new conversation not stored yet (its first turn stores them)


class CachedSQLTrackerStore(SQLTrackerStore):
    """`type: kefu.runtime.tracker_cache.CachedSQLTrackerStore` in bot/endpoints*.yml,
    with SQLTrackerStore's own settings."""

    def __init__(self, *args: Any, cache_size: int = DEFAULT_CACHE_SIZE, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cache: OrderedDict[str, _Entry] = OrderedDict()
        self._cache_size = int(cache_size)
        table = self.SQLEvent.__table__
        # Plain SQL on the (sender_id, id) index, on the DBAPI connection:
        # the ORM query cost ~0.75 ms a turn. sqlite3 takes "?", psycopg2 "%s".
        marker = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        self._newest_dbapi = f"SELECT max(id) FROM {table.name} WHERE sender_id = {marker}"
        # A turn's events in one multi-row INSERT, its SQL written once per
        # row count: SQLAlchemy would compile a multi-row .values() anew
        # for every turn (~0.4 ms).
        self._marker = marker
        self._table_name = table.name
        self._insert_sql: dict[int, str] = {}

    @contextmanager
    def _cursor(self) -> Iterator[tuple[Any, Any]]:
        """A pooled DBAPI connection and a cursor: an ORM session and its
        results around these few statements cost more than the statements."""
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                yield connection, cursor
            finally:
                cursor.close()
        finally:
            connection.close()  # back to the pool, which rolls back anything uncommitted

    def _newest_id(self, cursor: Any, sender_id: str) -> int | None:
        cursor.execute(self._newest_dbapi, (sender_id,))
        row = cursor.fetchone()
        return row[0] if row else None

    async def create_tracker(self, sender_id: str, append_action_listen: bool = True) -> DialogueStateTracker:
        """A new conversation, not stored yet (Rasa saves it empty first): the
        first turn's save stores its events with the turn's own. A turn that
        fails stores nothing, and the next message starts it afresh."""
        tracker = self.init_tracker(sender_id)
        if append_action_listen:
            tracker.update(ActionExecuted(ACTION_LISTEN_NAME))
        self._remember(sender_id, tracker, None, stored=0)
        self._cache[sender_id].fresh = len(tracker.events)
        return tracker

    def _remember(
        self, sender_id: str, tracker: DialogueStateTracker, last_id: int | None, stored: int | None = None
    ) -> None:
        self._cache[sender_id] = _Entry(tracker, last_id, len(tracker.events) if stored is None else stored)
        self._cache.move_to_end(sender_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        # The id is read before the events: a write in between makes the
        # remembered id older than the events, so the next turn reloads.
        with self._cursor() as (_connection, cursor):
            newest = self._newest_id(cursor, sender_id)
        entry = self._cache.get(sender_id)
        if entry and entry.last_id == newest and len(entry.tracker.events) == entry.stored + entry.fresh:
            self._cache.move_to_end(sender_id)
            return entry.tracker
        self._cache.pop(sender_id, None)
        if newest is None:
            return None  # no stored event: no conversation (what Rasa's retrieve finds, without its queries)
        tracker = await super().retrieve(sender_id)
        if tracker is not None and newest is not None:
            self._remember(sender_id, tracker, newest)
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        entry = self._cache.get(tracker.sender_id)
        if entry is None or entry.tracker is not tracker:
            # Not a conversation this store handed out (a new one, or one
            # built by Rasa's API): Rasa's own save, then load it next time.
            self._cache.pop(tracker.sender_id, None)
            await super().save(tracker)
            return
        new_events = list(tracker.events)[entry.stored :]
        rows = [self._row(tracker.sender_id, event) for event in new_events]
        with self._cursor() as (connection, cursor):
            # Somebody else wrote since this turn began? Their events are
            # theirs; ours are still exactly new_events. Store them, but load
            # the conversation from the database next time.
            undisturbed = self._newest_id(cursor, tracker.sender_id) == entry.last_id
            last_id = entry.last_id
            if rows:
                # One statement for a turn's events (chunks keep far below SQLite's variable limit).
                for start in range(0, len(rows), ROWS_PER_INSERT):
                    chunk = rows[start : start + ROWS_PER_INSERT]
                    cursor.execute(self._insert_for(len(chunk)), tuple(value for row in chunk for value in row))
                last_id = self._newest_id(cursor, tracker.sender_id)
            connection.commit()
        # After the commit, so the desk never reacts to a turn that was not
        # stored. Not Rasa's stream_events: it diffs against retrieve(),
        # which here is this very tracker (nothing would be streamed).
        self._publish(tracker.sender_id, new_events)
        if undisturbed:
            self._remember(tracker.sender_id, tracker, last_id)
        else:
            self._cache.pop(tracker.sender_id, None)

    def _insert_for(self, count: int) -> str:
        sql = self._insert_sql.get(count)
        if sql is None:
            row = "(" + ", ".join([self._marker] * len(_COLUMNS)) + ")"
            sql = f"INSERT INTO {self._table_name} ({', '.join(_COLUMNS)}) VALUES " + ", ".join([row] * count)
            self._insert_sql[count] = sql
        return sql

    def _publish(self, sender_id: str, events: list[Any]) -> None:
        if self.event_broker is None or not events:
            return
        bodies = [{"sender_id": sender_id, **event.as_dict()} for event in events]
        publish_many = getattr(self.event_broker, "publish_many", None)
        try:
            if publish_many is not None:
                publish_many(bodies)  # one transaction for the turn (kefu.runtime.event_broker)
            else:
                for body in bodies:
                    self.event_broker.publish(body)
        except Exception as exc:
            # The turn is stored and answered; only the desk's copy is lost
            # (the desk's live pages read the conversation itself).
            logger.error("events of %s not published to the event broker: %s", sender_id, exc)

    def _row(self, sender_id: str, event: Any) -> tuple[Any, ...]:
        # The columns SQLTrackerStore.save writes for each event (_COLUMNS).
        data = event.as_dict()
        return (
            sender_id,
            event.type_name,
            data.get("timestamp"),
            data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
            data.get("name"),
            json.dumps(data),
        )
