"""The reminder outbox: claim with a lease, mark, confirm, recover.

A row moves pending -> claimed -> sending -> sent. `claimed` means nothing
was sent yet, so a dead worker's claimed rows go back to pending when the
lease expires. `sending` is committed before the platform call, so a dead
worker's sending rows become `uncertain`: the platforms have no idempotency
key, and a customer must never get the same reminder twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from kefu.core.models import Reminder, ReminderStatus, local_iso

S = ReminderStatus
MAX_ATTEMPTS = 3
RETRY_AFTER = timedelta(minutes=5)
UNCERTAIN_NOTE = "worker stopped during the platform call: check before sending again"


@dataclass
class Outcome:
    sent: list[int] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)  # certainly not sent
    uncertain: list[tuple[int, str]] = field(default_factory=list)  # may have been sent
    failed: list[tuple[int, str]] = field(default_factory=list)  # never sendable


def claim(session: Session, owner: str, now: datetime, limit: int, lease: timedelta) -> list:
    """Take up to `limit` due rows; rows other workers hold are skipped, not waited for."""
    due = (
        select(Reminder.id)
        .where(Reminder.status == S.pending.value, Reminder.due_at <= now)
        .order_by(Reminder.due_at, Reminder.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )  # SQLite: one writer anyway, renders nothing
    session.execute(
        update(Reminder)
        .where(Reminder.id.in_(due.scalar_subquery()))
        .values(status=S.claimed.value, lease_owner=owner, lease_expires_at=now + lease)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    # Plain rows, not ORM objects: a batch is read once and never changed in place.
    r = Reminder.__table__
    return list(
        session.execute(
            select(
                r.c.id,
                r.c.subject_type,
                r.c.subject_id,
                r.c.seq,
                r.c.policy,
                r.c.channel,
                r.c.customer_id,
                r.c.address,
                r.c.shop,
                r.c.text,
                r.c.lease_owner,
            )
            .where(r.c.lease_owner == owner, r.c.status == S.claimed.value)
            .order_by(r.c.id)
        )
    )


def mark_sending(session: Session, owner: str, ids: Sequence[int], now: datetime, lease: timedelta) -> set[int]:
    """Committed before any platform call: from here a crash means `uncertain`.

    Returns the rows this worker still held and now marks; only those may be
    sent. A worker that stalled past its lease finds its rows recovered and
    claimed by another one, and must not send them too.
    """
    if ids:
        session.execute(
            update(Reminder)
            .where(Reminder.id.in_(list(ids)), Reminder.lease_owner == owner, Reminder.status == S.claimed.value)
            .values(status=S.sending.value, sending_at=now, lease_expires_at=now + lease)
            .execution_options(synchronize_session=False)
        )
    session.commit()
    if not ids:
        return set()
    return set(
        session.execute(
            select(Reminder.id).where(
                Reminder.id.in_(list(ids)), Reminder.lease_owner == owner, Reminder.status == S.sending.value
            )
        ).scalars()
    )


def release(session: Session, owner: str, moves: dict[int, datetime], cancels: dict[int, str]) -> None:
    """Hand claimed rows back: to a later due time, or cancelled with a reason."""
    for row_id, due in moves.items():
        session.execute(
            update(Reminder)
            .where(Reminder.id == row_id, Reminder.lease_owner == owner, Reminder.status == S.claimed.value)
            .values(status=S.pending.value, due_at=due, lease_owner=None, lease_expires_at=None)
            .execution_options(synchronize_session=False)
        )
    for row_id, reason in cancels.items():
        session.execute(
            update(Reminder)
            .where(Reminder.id == row_id, Reminder.lease_owner == owner, Reminder.status == S.claimed.value)
            .values(status=S.cancelled.value, error=reason[:255])
            .execution_options(synchronize_session=False)
        )
    session.commit()


def finish(session: Session, owner: str, outcome: Outcome, now: datetime) -> None:
    mine = (
        Reminder.lease_owner == owner,
        # A slow batch may have been marked uncertain by another worker's
        # recovery meanwhile; what actually happened is better news.
        Reminder.status.in_((S.sending.value, S.uncertain.value)),
    )
    if outcome.sent:
        session.execute(
            update(Reminder)
            .where(Reminder.id.in_(outcome.sent), *mine)
            .values(status=S.sent.value, sent_at=now, error=None)
            .execution_options(synchronize_session=False)
        )
    for row_id, error in outcome.refused:
        attempts = session.execute(select(Reminder.attempts).where(Reminder.id == row_id)).scalar() or 0
        retry = attempts + 1 < MAX_ATTEMPTS
        # Only from `sending`: a row already marked uncertain may have a
        # successor queued by now, so it is never put back in the queue.
        session.execute(
            update(Reminder)
            .where(Reminder.id == row_id, Reminder.lease_owner == owner, Reminder.status == S.sending.value)
            .values(
                status=S.pending.value if retry else S.failed.value,
                attempts=attempts + 1,
                due_at=now + RETRY_AFTER * (attempts + 1) if retry else Reminder.due_at,
                lease_owner=None if retry else owner,
                lease_expires_at=None,
                error=error[:255],
            )
            .execution_options(synchronize_session=False)
        )
    for status, rows in ((S.uncertain, outcome.uncertain), (S.failed, outcome.failed)):
        for row_id, error in rows:
            session.execute(
                update(Reminder)
                .where(Reminder.id == row_id, *mine)
                .values(status=status.value, error=error[:255])
                .execution_options(synchronize_session=False)
            )
    session.commit()


def recover(session: Session, now: datetime) -> tuple[int, int]:
    """Expired leases of dead workers: (back to pending, now uncertain)."""
    retried = session.execute(
        update(Reminder)
        .where(Reminder.status == S.claimed.value, Reminder.lease_expires_at < now)
        .values(status=S.pending.value, lease_owner=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    uncertain = session.execute(
        update(Reminder)
        .where(Reminder.status == S.sending.value, Reminder.lease_expires_at < now)
        .values(status=S.uncertain.value, error=UNCERTAIN_NOTE)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    return retried, uncertain


def counts(session: Session) -> dict[str, int]:
    return dict(session.execute(select(Reminder.status, func.count()).group_by(Reminder.status)).all())


def list_reminders(session: Session, status: str | None = None, limit: int = 200) -> list[Reminder]:
    query = select(Reminder).order_by(Reminder.id.desc()).limit(limit)
    if status is not None:
        query = query.where(Reminder.status == status)
    return list(session.execute(query).scalars())


def reminder_to_json(row: Reminder) -> dict:
    return {
        "id": row.id,
        "subject_type": row.subject_type,
        "subject_id": row.subject_id,
        "seq": row.seq,
        "policy": row.policy,
        "channel": row.channel,
        "customer_id": row.customer_id,
        "shop": row.shop,
        "text": row.text,
        "status": row.status,
        "attempts": row.attempts,
        "error": row.error,
        "due_at": local_iso(row.due_at),
        "sending_at": local_iso(row.sending_at),
        "sent_at": local_iso(row.sent_at),
        "created_at": local_iso(row.created_at),
    }
