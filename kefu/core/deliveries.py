"""Inbound dedup across server processes, and outgoing texts that failed."""

from __future__ import annotations

import enum
import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kefu.core.models import ChannelCursor, ChannelDelivery, UndeliveredMessage, local_iso, utcnow

logger = logging.getLogger(__name__)


class Claim(enum.Enum):
    new = "new"  # first delivery, or taken over from a dead server: answer it
    done = "done"  # answered already: a retry, drop it
    in_flight = "in_flight"  # being answered right now by some server: ask to retry later


def claim_delivery(
    session: Session,
    channel: str,
    dedup_key: str,
    now: datetime | None = None,
    stale_after: timedelta = timedelta(seconds=30),
    payload: str | None = None,
) -> Claim:
    """Who answers this platform message: the unique key decides, so two
    processes receiving the same retry at once cannot both win. A claim still
    unfinished after stale_after was left by a server that died mid-turn; the
    retry takes it over rather than losing the message."""
    now = now or utcnow()
    key = dedup_key[:255]
    session.add(ChannelDelivery(channel=channel, dedup_key=key, claimed_at=now, finished=False, payload=payload))
    try:
        session.commit()
        return Claim.new
    except IntegrityError:
        session.rollback()
    if _take_over(session, channel, key, now, stale_after):
        return Claim.new
    finished = session.execute(
        select(ChannelDelivery.finished).where(ChannelDelivery.channel == channel, ChannelDelivery.dedup_key == key)
    ).scalar()
    if finished is None:  # released by a failed attempt just now: let the platform retry
        return Claim.in_flight
    return Claim.done if finished else Claim.in_flight


def take_over_stale(
    session: Session,
    channel: str,
    now: datetime | None = None,
    stale_after: timedelta = timedelta(seconds=30),
    limit: int = 20,
) -> list[str]:
    """Payloads of claims whose server died before finishing them, each now
    claimed by the caller (one caller wins each): for pulled messages, which
    no platform retry brings back."""
    now = now or utcnow()
    rows = session.execute(
        select(ChannelDelivery.dedup_key, ChannelDelivery.payload)
        .where(
            ChannelDelivery.channel == channel,
            ChannelDelivery.finished.is_(False),
            ChannelDelivery.payload.is_not(None),
            ChannelDelivery.claimed_at < now - stale_after,
        )
        .order_by(ChannelDelivery.id)
        .limit(limit)
    ).all()
    return [payload for key, payload in rows if _take_over(session, channel, key, now, stale_after)]


def _take_over(session: Session, channel: str, key: str, now: datetime, stale_after: timedelta) -> bool:
    """Claim an unfinished claim older than stale_after; one caller wins."""
    won = session.execute(
        update(ChannelDelivery)
        .where(
            ChannelDelivery.channel == channel,
            ChannelDelivery.dedup_key == key,
            ChannelDelivery.finished.is_(False),
            ChannelDelivery.claimed_at < now - stale_after,
        )
        .values(claimed_at=now)
    )
    session.commit()
    if won.rowcount != 1:
        return False
    logger.warning("%s message %s: its claim was never finished (server died?); answering it now", channel, key)
    return True


def finish_delivery(session: Session, channel: str, dedup_key: str) -> None:
    """The message is answered (or deliberately not): retries are duplicates.
    The kept message (the customer's words) is not needed any more."""
    session.execute(
        update(ChannelDelivery)
        .where(ChannelDelivery.channel == channel, ChannelDelivery.dedup_key == dedup_key[:255])
        .values(finished=True, payload=None)
    )
    session.commit()


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
    session.execute(
        delete(ChannelDelivery).where(ChannelDelivery.channel == channel, ChannelDelivery.dedup_key == dedup_key[:255])
    )
    session.commit()


def list_undelivered(session: Session, customer_id: str | None = None, limit: int = 200) -> list[UndeliveredMessage]:
    query = select(UndeliveredMessage).order_by(UndeliveredMessage.id.desc()).limit(limit)
    if customer_id is not None:
        query = query.where(UndeliveredMessage.customer_id == customer_id)
    return list(session.execute(query).scalars())


def undelivered_to_json(row: UndeliveredMessage) -> dict:
    return {
        "id": row.id,
        "channel": row.channel,
        "customer_id": row.customer_id,
        "text": row.text,
        "error": row.error,
        "created_at": local_iso(row.created_at),
    }
