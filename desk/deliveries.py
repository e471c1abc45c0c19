"""Inbound dedup across server processes, and outgoing texts that failed."""
from __future__ import annotations

from typing import List, Optional

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from desk.models import ChannelCursor, ChannelDelivery, UndeliveredMessage, local_iso, utcnow


def claim_delivery(session: Session, channel: str, dedup_key: str) -> bool:
    """True for the first delivery of a platform message, False for a retry.

    The unique key decides, so two processes receiving the same retry at
    once cannot both win.
    """
    session.add(ChannelDelivery(channel=channel, dedup_key=dedup_key[:255]))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return False
    return True


def record_undelivered(session: Session, channel: str, customer_id: str, text: str, error: str) -> None:
    session.add(UndeliveredMessage(channel=channel, customer_id=customer_id, text=text, error=error[:255]))
    session.commit()


def read_cursor(session: Session, channel: str, account: str) -> str:
    row = session.get(ChannelCursor, (channel, account))
    return row.cursor if row else ""


def save_cursor(session: Session, channel: str, account: str, cursor: str) -> None:
    row = session.get(ChannelCursor, (channel, account))
    if row is None:
        session.add(ChannelCursor(channel=channel, account=account, cursor=cursor))
    else:
        row.cursor = cursor
        row.updated_at = utcnow()
    session.commit()


def release_delivery(session: Session, channel: str, dedup_key: str) -> None:
    """Undo a claim whose processing failed, so the next read retries it."""
    session.execute(delete(ChannelDelivery).where(
        ChannelDelivery.channel == channel, ChannelDelivery.dedup_key == dedup_key[:255]))
    session.commit()


def list_undelivered(session: Session, customer_id: Optional[str] = None, limit: int = 200) -> List[UndeliveredMessage]:
    query = select(UndeliveredMessage).order_by(UndeliveredMessage.id.desc()).limit(limit)
    if customer_id is not None:
        query = query.where(UndeliveredMessage.customer_id == customer_id)
    return list(session.execute(query).scalars())


def undelivered_to_json(row: UndeliveredMessage) -> dict:
    return {"id": row.id, "channel": row.channel, "customer_id": row.customer_id, "text": row.text,
            "error": row.error, "created_at": local_iso(row.created_at)}
