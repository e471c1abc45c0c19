"""Planning reminders: which unpaid orders and bills get their next reminder now.

The planner only writes outbox rows (kefu.core.reminder_outbox sends them). A row
is the n-th reminder of one order or bill, unique in the database, so two
planners can never queue the same reminder twice. Stop conditions are
checked here and again just before sending (kefu.reminders.stops).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, exists, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kefu.core.models import SHANGHAI, Bill, Order, Reminder, ReminderStatus
from kefu.reminders.policy import Policies, Policy, china_date, render, yuan
from kefu.reminders.stops import StopFacts, bill_customer, order_customer
from kefu.text.ad_law import check_outgoing

# Reminders that count against max_reminders (a refused one was tried).
USED = (ReminderStatus.sent.value, ReminderStatus.uncertain.value, ReminderStatus.failed.value)
# A subject with one of these rows already has its next reminder queued
# (its reminder is on its way; the planner leaves it alone).
OPEN = (ReminderStatus.pending.value, ReminderStatus.claimed.value, ReminderStatus.sending.value)
PLAN_LOCK_ID = 7_310_001  # pg advisory lock: one planner at a time


@dataclass
class Decision:
    subject_type: str
    subject_id: int
    label: str  # order id or "物业费 2026-11" for people reading the preview
    customer_id: str
    channel: str
    address: str
    shop: str | None
    policy: str
    seq: int
    plan: bool
    reason: str
    due_at: datetime | None = None
    text: str = ""


@dataclass(frozen=True)
class History:
    total: int = 0  # rows so far, whatever became of them: the next seq
    used: int = 0  # rows that count against max_reminders
    last: datetime | None = None  # when the latest one went out (or was due)


NO_HISTORY = History()


def _no_open_reminder(subject_type: str, subject_id: Any) -> Any:
    r = Reminder.__table__
    return ~exists().where(r.c.subject_type == subject_type, r.c.subject_id == subject_id, r.c.status.in_(OPEN))


HISTORY_CHUNK = 5000


def _histories(session: Session, subject_type: str, candidates: list[int]) -> dict[int, History]:
    """Past reminders of the candidate subjects only, looked up by id.

    Not as a semi-join on the candidates' query: right after a large first
    round PostgreSQL's statistics still say `reminders` is empty, and it
    nested that join three levels deep (minutes for 1,500 orders, while the
    worker could not stop). Ids in chunks use the unique index directly.
    """
    r = Reminder.__table__
    found: dict[int, History] = {}
    for start in range(0, len(candidates), HISTORY_CHUNK):
        rows = session.execute(
            select(
                r.c.subject_id,
                func.count(),
                func.sum(case((r.c.status.in_(USED), 1), else_=0)),
                func.max(func.coalesce(r.c.sent_at, r.c.sending_at, r.c.due_at)),
            )
            .where(r.c.subject_type == subject_type, r.c.subject_id.in_(candidates[start : start + HISTORY_CHUNK]))
            .group_by(r.c.subject_id)
        )
        found.update({sid: History(total, used or 0, last) for sid, total, used, last in rows})
    return found


def _decide(
    policy: Policy, first: datetime, history: History, now: datetime, stop: str | None, expired: bool
) -> tuple[bool, str, datetime | None]:
    if history.used >= policy.max_reminders:
        return False, f"all {policy.max_reminders} reminder(s) used", None
    if stop:
        return False, stop, None
    if expired:
        return False, "too old to chase", None
    earliest = first if history.last is None else max(first, history.last + policy.min_gap)
    if earliest > now:
        return False, f"next reminder not before {earliest.astimezone(SHANGHAI):%Y-%m-%d %H:%M}", None
    due = policy.quiet_hours.next_allowed(now)
    reason = f"reminder {history.total + 1} of at most {policy.max_reminders}"
    if due > now:
        reason += f", held for quiet hours {policy.quiet_hours} until {due:%H:%M}"
    return True, reason, due


def order_decisions(session: Session, policies: Policies, facts: StopFacts, now: datetime) -> Iterator[Decision]:
    """Unpaid orders in the widest policy window with no reminder queued."""
    o = Order.__table__
    everyone = [policies.order_default, *policies.shops.values()]
    newest = now - timedelta(minutes=min(p.first_after_minutes for p in everyone))
    oldest = now - timedelta(hours=max(p.stop_after_hours for p in everyone))
    where = (
        o.c.status == "unpaid",
        o.c.buyer.isnot(None),
        o.c.created_at.isnot(None),
        o.c.created_at <= newest,
        o.c.created_at >= oldest,
        _no_open_reminder("order", o.c.id),
    )
    rows = session.execute(
        select(o.c.id, o.c.platform, o.c.order_id, o.c.shop, o.c.buyer, o.c.amount_cents, o.c.created_at)
        .where(*where)
        .order_by(o.c.created_at, o.c.id)
    ).all()
    histories = _histories(session, "order", [row.id for row in rows])
    for row in rows:
        policy = policies.for_order(row.shop)
        history = histories.get(row.id, NO_HISTORY)
        customer = order_customer(row.platform, row.buyer)
        stop = facts.stop_reason(customer, row.order_id, row.created_at, policy, now)
        expired = row.created_at + timedelta(hours=policy.stop_after_hours) < now
        first = row.created_at + timedelta(minutes=policy.first_after_minutes)
        plan, reason, due = _decide(policy, first, history, now, stop, expired)
        decision = Decision(
            "order",
            row.id,
            row.order_id,
            customer,
            row.platform,
            row.buyer,
            row.shop,
            policy.name,
            history.total + 1,
            plan,
            reason,
            due,
        )
        if plan:
            decision.text, error = render(
                policy.template(row.platform),
                {"shop": row.shop or "本店", "order_id": row.order_id, "amount": yuan(row.amount_cents)},
            )
            if error:
                decision.plan, decision.reason = False, error
        yield decision


def bill_decisions(session: Session, policies: Policies, facts: StopFacts, now: datetime) -> Iterator[Decision]:
    """Unpaid bills in the widest policy window with no reminder queued."""
    b = Bill.__table__
    everyone = [policies.bill_default, *policies.kinds.values()]
    today = now.astimezone(SHANGHAI).date()
    latest_due = today - timedelta(days=min(p.first_offset_days for p in everyone)) + timedelta(days=1)
    earliest_due = (
        today
        - timedelta(days=max(p.stop_after_days + max(p.first_offset_days, 0) for p in everyone))
        - timedelta(days=1)
    )
    where = (
        b.c.status == "unpaid",
        b.c.due_date <= latest_due,
        b.c.due_date >= earliest_due,
        _no_open_reminder("bill", b.c.id),
    )
    rows = session.execute(
        select(
            b.c.id,
            b.c.customer_id,
            b.c.channel,
            b.c.address,
            b.c.kind,
            b.c.amount_cents,
            b.c.due_date,
            b.c.period,
            b.c.created_at,
        )
        .where(*where)
        .order_by(b.c.due_date, b.c.id)
    ).all()
    histories = _histories(session, "bill", [row.id for row in rows])
    for row in rows:
        policy = policies.for_bill(row.kind)
        history = histories.get(row.id, NO_HISTORY)
        customer = bill_customer(row.channel, row.address)
        first = policy.first_bill_reminder(row.due_date)
        stop = facts.stop_reason(customer, None, row.created_at, policy, now)
        expired = first + timedelta(days=policy.stop_after_days) < now
        plan, reason, due = _decide(policy, first, history, now, stop, expired)
        decision = Decision(
            "bill",
            row.id,
            f"{row.kind} {row.period}",
            customer,
            row.channel,
            row.address,
            None,
            policy.name,
            history.total + 1,
            plan,
            reason,
            due,
        )
        if plan:
            decision.text, error = render(
                policy.template(row.channel),
                {
                    "kind": row.kind,
                    "period": row.period,
                    "amount": yuan(row.amount_cents),
                    "due_date": china_date(row.due_date),
                    "customer_id": row.customer_id,
                },
            )
            if error:
                decision.plan, decision.reason = False, error
        yield decision


def decide(session: Session, policies: Policies, now: datetime) -> Iterator[Decision]:
    facts = StopFacts.load(session)
    yield from order_decisions(session, policies, facts, now)
    yield from bill_decisions(session, policies, facts, now)


def _insert(session: Session, decisions: list[Decision], now: datetime) -> None:
    rows = [
        {
            "subject_type": d.subject_type,
            "subject_id": d.subject_id,
            "seq": d.seq,
            "policy": d.policy,
            "channel": d.channel,
            "customer_id": d.customer_id,
            "address": d.address,
            "shop": d.shop,
            # The ad-law check runs here, so the stored text is exactly what goes out.
            "text": check_outgoing(d.text, d.channel, d.customer_id),
            "status": ReminderStatus.pending.value,
            "due_at": d.due_at,
            "attempts": 0,
            "created_at": now,
        }
        for d in decisions
    ]
    dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
    # A concurrent planner that queued the same n-th reminder wins; ours is skipped.
    session.execute(dialect.insert(Reminder.__table__).on_conflict_do_nothing(), rows)
    session.commit()


@contextmanager
def _planner_lock(session: Session) -> Iterator[bool]:
    """PostgreSQL: one planner at a time (a session lock on its own connection,
    held across the chunk commits). SQLite has a single worker."""
    if session.bind.dialect.name != "postgresql":
        yield True
        return
    with session.bind.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        got = conn.execute(text("SELECT pg_try_advisory_lock(:id)"), {"id": PLAN_LOCK_ID}).scalar()
        try:
            yield bool(got)
        finally:
            if got:
                conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": PLAN_LOCK_ID})


def plan(
    session: Session, policies: Policies, now: datetime, chunk: int = 2000, stopping: Callable[[], bool] = lambda: False
) -> int:
    """Queue every reminder that is due now; returns how many were queued.

    Committed in chunks so workers start sending while a large first round
    (e.g. 100,000 orders) is still being planned. When `stopping()` turns
    true the round ends early; the next planner queues the rest.
    """
    with _planner_lock(session) as mine:
        if not mine:
            return 0
        queued, batch = 0, []
        for decision in decide(session, policies, now):
            if stopping():
                break
            if decision.plan:
                batch.append(decision)
            if len(batch) >= chunk:
                _insert(session, batch, now)
                queued, batch = queued + len(batch), []
        if batch:
            _insert(session, batch, now)
            queued += len(batch)
        session.commit()
        return queued
