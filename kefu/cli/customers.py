"""`kefu customer export|delete ID`: a customer's data from the desk database,
their photos and files (KEFU_MEDIA_DIR) and their conversation in Rasa
(through Rasa's HTTP API, when it runs)."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from urllib.parse import quote

from sqlalchemy import text
from sqlalchemy.orm import Session

from kefu.core import customer_data
from kefu.core.db import make_engine, upgrade
from kefu.core.settings import Settings, TrackerSettings, load_settings, load_tracker_settings
from kefu.desk.rasa_client import conversation_url


def _tracker_url(settings: Settings, customer_id: str, tail: str = "") -> str:
    url = conversation_url(settings.rasa_url, customer_id, f"/tracker{tail}")
    return url + (f"?token={quote(settings.rasa_token)}" if settings.rasa_token else "")


def _rasa(method: str, url: str, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read() or b"null")


def tracker_store_url(tracker: TrackerSettings) -> str | None:
    """Where Rasa's SQL tracker store is (bot/endpoints.yml reads the same variables)."""
    if tracker.url:
        return tracker.url
    if tracker.dialect == "sqlite":
        return f"sqlite:///{tracker.db}"
    return None


def _delete_events(database_url: str, customer_id: str) -> int:
    """The customer's rows of an `events` table (Rasa's tracker store and its
    SQL event broker both call theirs so)."""
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            return conn.execute(text("DELETE FROM events WHERE sender_id = :id"), {"id": customer_id}).rowcount
    finally:
        engine.dispose()


def main(action: str, customer_id: str, yes: bool) -> int:
    # Not stripped: a REST customer id may begin or end with a space.
    if not customer_id.strip():
        print("error: the customer id must not be empty", file=sys.stderr)
        return 2
    settings = load_settings()
    url = settings.database_url
    upgrade(url)
    with Session(make_engine(url), future=True) as session:
        if action == "export":
            data = customer_data.export(session, customer_id, settings.media_dir)
            try:
                data["conversation_events"] = _rasa("GET", _tracker_url(settings, customer_id)).get("events", [])
            except (urllib.error.URLError, OSError) as exc:
                data["conversation_events"] = None
                print(f"warning: Rasa not reachable, conversation history not included ({exc})", file=sys.stderr)
            print(json.dumps({"customer_id": customer_id, **data}, ensure_ascii=False, indent=2, default=str))
            return 0
        if not yes:
            answer = input(f"delete every record of {customer_id}? type the id again to confirm: ")
            if answer != customer_id and answer.strip() != customer_id.strip():
                print("nothing deleted")
                return 1
        counts = customer_data.erase(session, customer_id, settings.media_dir)
    leftovers = [url]
    tracker_db = tracker_store_url(load_tracker_settings())
    if tracker_db is None:
        print(
            "warning: the conversation history is in a tracker store this command cannot reach; set KEFU_TRACKER_URL",
            file=sys.stderr,
        )
    else:
        # Rasa's API can only add events, so the rows go from its SQL store itself.
        counts["conversation_events"] = _delete_events(tracker_db, customer_id)
        leftovers.append(tracker_db)
    if settings.events_db.exists():
        # The copy Rasa's event broker keeps for the desk (kefu/runtime/event_broker.py).
        events_db = f"sqlite:///{settings.events_db}"
        counts["broker_events"] = _delete_events(events_db, customer_id)
        leftovers.append(events_db)
    print(f"deleted {customer_id}: " + ", ".join(f"{k} {v}" for k, v in counts.items() if v))
    status = 0
    for db_url in leftovers:
        engine = make_engine(db_url)
        try:
            customer_data.erase_leftovers(engine)
        except customer_data.LeftoversRemain as exc:
            print(f"warning: {exc}", file=sys.stderr)
            status = 1
        finally:
            engine.dispose()
    return status
