"""One customer's personal data in the desk database: export it, delete it.

Orders and bills are the business's own records (accounting keeps them), so
deleting a customer removes their conversations, tickets, facts, surveys,
reminders, undelivered texts and media (the rows, then their files under
KEFU_MEDIA_DIR), and strips their id from orders and bills. An export lists
their media with each file's content (base64).

A deleted row stays readable in a SQLite file until its page is reused:
in the freed page, and in the write-ahead log (-wal) until a checkpoint.
`erase_leftovers` rewrites the file and empties the log afterwards.
"""

from __future__ import annotations

import base64
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from kefu.core.media import path_of
from kefu.core.models import (
    Bill,
    ChannelCursor,
    Conversation,
    ConversationNote,
    CustomerFact,
    FollowUp,
    Media,
    Order,
    QueueWait,
    Reminder,
    Survey,
    Ticket,
    TicketEvent,
    UndeliveredMessage,
)

SHOP_PLATFORMS = ("taobao", "tmall")
ERASED = "（已删除）"


def _row(obj: Any) -> dict[str, Any]:
    out = {}
    for column in obj.__table__.columns:
        value = getattr(obj, column.key)
        out[column.key] = value.isoformat() if isinstance(value, (datetime, date)) else value
    return out


def _shop_buyer(customer_id: str) -> str | None:
    platform, _, buyer = customer_id.partition(":")
    return (buyer or None) if platform in SHOP_PLATFORMS else None


def _bills(customer_id: str) -> tuple[Any, ...]:
    channel, _, address = customer_id.partition(":")
    return (Bill.channel == channel, Bill.address == address) if address else (Bill.id.is_(None),)


def _media_rows(session: Session, customer_id: str, media_dir: Path | None) -> list[dict[str, Any]]:
    out = []
    for m in session.execute(select(Media).where(Media.customer_id == customer_id).order_by(Media.id)).scalars():
        row = _row(m)
        path = path_of(media_dir, m) if media_dir is not None else None
        row["content_base64"] = base64.b64encode(path.read_bytes()).decode() if path is not None else None
        out.append(row)
    return out


def export(session: Session, customer_id: str, media_dir: Path | None = None) -> dict[str, list[dict[str, Any]]]:
    tickets = list(session.execute(select(Ticket).where(Ticket.customer_id == customer_id)).scalars())
    ticket_ids = [t.id for t in tickets]
    buyer = _shop_buyer(customer_id)

    def rows(model: Any, *where: Any) -> list[dict[str, Any]]:
        return [_row(r) for r in session.execute(select(model).where(*where).order_by(model.id)).scalars()]

    return {
        "conversations": rows(Conversation, Conversation.customer_id == customer_id),
        "conversation_notes": rows(ConversationNote, ConversationNote.customer_id == customer_id),
        "queue_waits": rows(QueueWait, QueueWait.customer_id == customer_id),
        "tickets": [_row(t) for t in tickets],
        "ticket_events": rows(TicketEvent, TicketEvent.ticket_id.in_(ticket_ids)) if ticket_ids else [],
        "surveys": rows(Survey, Survey.customer_id == customer_id),
        "facts": rows(CustomerFact, CustomerFact.customer_id == customer_id),
        "reminders": rows(Reminder, Reminder.customer_id == customer_id),
        "undelivered_messages": rows(UndeliveredMessage, UndeliveredMessage.customer_id == customer_id),
        "orders": rows(Order, Order.platform.in_(SHOP_PLATFORMS), Order.buyer == buyer) if buyer else [],
        "bills": rows(Bill, *_bills(customer_id)),
        "media": _media_rows(session, customer_id, media_dir),
    }


def erase(session: Session, customer_id: str, media_dir: Path | None = None) -> dict[str, int]:
    """Everything in one transaction: all of it goes, or nothing does. The
    media files go once the rows are gone (a file left by a crash in between
    names nobody: its row is deleted)."""
    counts: dict[str, int] = {}
    kept_media = list(session.execute(select(Media).where(Media.customer_id == customer_id)).scalars())
    files = [path_of(media_dir, m) for m in kept_media] if media_dir is not None else []
    counts["media"] = session.execute(delete(Media).where(Media.customer_id == customer_id)).rowcount
    ticket_ids = list(session.execute(select(Ticket.id).where(Ticket.customer_id == customer_id)).scalars())
    if ticket_ids:
        for model in (TicketEvent, Survey, FollowUp):
            counts[model.__tablename__] = session.execute(delete(model).where(model.ticket_id.in_(ticket_ids))).rowcount
    for model in (
        Survey,
        CustomerFact,
        Reminder,
        UndeliveredMessage,
        Ticket,
        ConversationNote,
        QueueWait,
        Conversation,
    ):
        counts[model.__tablename__] = (
            counts.get(model.__tablename__, 0)
            + session.execute(delete(model).where(model.customer_id == customer_id)).rowcount
        )
    buyer = _shop_buyer(customer_id)
    if buyer:
        counts["orders_anonymised"] = session.execute(
            update(Order).where(Order.platform.in_(SHOP_PLATFORMS), Order.buyer == buyer).values(buyer=None)
        ).rowcount
        # The session cannot evaluate LIKE on loaded rows ("like_op"), and
        # holds none of these rows anyway: no synchronisation needed.
        counts["routes"] = session.execute(
            delete(ChannelCursor)
            .where(ChannelCursor.channel.like("%-route"), ChannelCursor.account == buyer)
            .execution_options(synchronize_session=False)
        ).rowcount
    counts["bills_anonymised"] = session.execute(
        update(Bill).where(*_bills(customer_id)).values(address=ERASED)
    ).rowcount
    session.commit()
    counts["media_files"] = 0
    for path in files:
        if path is not None:
            path.unlink(missing_ok=True)
            counts["media_files"] += 1
    return counts


class LeftoversRemain(Exception):
    """The SQLite log could not be emptied (another connection kept reading)."""


def erase_leftovers(engine: Engine, attempts: int = 20) -> None:
    """Leave no copy of deleted rows in a SQLite database's files.

    VACUUM rewrites the database from its live rows only (freed pages go);
    a TRUNCATE checkpoint then copies the log into the file and cuts the
    -wal file to zero bytes. The checkpoint waits for readers (busy_timeout)
    and is tried again while another connection holds an old snapshot.
    PostgreSQL and other servers manage their own files: nothing to do here.
    """
    if engine.dialect.name != "sqlite":
        return
    import time

    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")  # VACUUM refuses a transaction
        conn.exec_driver_sql("VACUUM")
        for attempt in range(attempts):
            busy, _, _ = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
            if not busy:
                return
            time.sleep(0.1 * (attempt + 1))
    raise LeftoversRemain("the write-ahead log is still in use; run the delete again to empty it")
