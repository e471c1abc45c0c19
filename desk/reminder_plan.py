"""Planning reminders: which unpaid orders and bills get their next reminder now.

The planner only writes outbox rows (desk.reminder_outbox sends them). A row
is the n-th reminder of one order or bill, unique in the database, so two
planners can never queue the same reminder twice. Stop conditions are
checked here and again just before sending (desk.reminder_stops).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, List, Optional

from sqlalchemy import case, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from desk.ad_law import check_outgoing
from desk.models import SHANGHAI, Bill, Order, Reminder, ReminderStatus
from desk.reminder_policy import Policies, Policy, china_date, render, yuan
from desk.reminder_stops import StopFacts, bill_customer, order_customer

# Reminders that count against max_reminders (a refused one was tried).
USED = (ReminderStatus.sent.value, ReminderStatus.uncertain.value, ReminderStatus.failed.value)
# A subject with one of these rows already has its next reminder queued.
OPEN = (ReminderStatus.pending.value, ReminderStatus.claimed.value, ReminderStatus.sending.value)
PLAN_LOCK_ID = 7_310_001  # pg advisory lock: one planner at a time


@dataclass
class Decision:
    subject_type: str
    subject_id: int
    label: str            # order id or "物业费 2026-11" for people reading the preview
    customer_id: str
    channel: str
    address: str
    shop: Optional[str]
    policy: str
    seq: int
    plan: bool
    reason: str
    due_at: Optional[datetime] = None
    text: str = ""


def _stats(subject_type: str):
    r = Reminder.__table__
    return (
        select(
            r.c.subject_id,
            func.count().label("total"),
            func.sum(case((r.c.status.in_(USED), 1), else_=0)).label("used"),
            func.sum(case((r.c.status.in_(OPEN), 1), else_=0)).label("open"),
            func.max(func.coalesce(r.c.sent_at, r.c.sending_at, r.c.due_at)).label("last"),
        )
        .where(r.c.subject_type == subject_type)
        .group_by(r.c.subject_id)
        .subquery()
    )


def _decide(policy: Policy, first: datetime, stats, now: datetime, stop: Optional[str],
            expired: bool) -> tuple[bool, str, Optional[datetime]]:
    total, used, open_, last = (stats.total or 0), (stats.used or 0), (stats.open or 0), stats.last
    if open_:
        return False, "a reminder is already queued", None
    if used >= policy.max_reminders:
        return False, f"all {policy.max_reminders} reminder(s) used", None
    if stop:
        return False, stop, None
    if expired:
        return False, "too old to chase", None
    earliest = first if last is None else max(first, last + policy.min_gap)
    if earliest > now:
        return False, f"next reminder not before {earliest.astimezone(first.tzinfo):%Y-%m-%d %H:%M}", None
    due = policy.quiet_hours.next_allowed(now)
    reason = f"reminder {total + 1} of at most {policy.max_reminders}"
    if due > now:
        reason += f", held for quiet hours {policy.quiet_hours} until {due:%H:%M}"
    return True, reason, due


def order_decisions(session: Session, policies: Policies, facts: StopFacts, now: datetime) -> List[Decision]:
    o = Order.__table__
    stats = _stats("order")
    everyone = [policies.order_default, *policies.shops.values()]
    newest = now - timedelta(minutes=min(p.first_after_minutes for p in everyone))
    oldest = now - timedelta(hours=max(p.stop_after_hours for p in everyone))
    rows = session.execute(
        select(o.c.id, o.c.platform, o.c.order_id, o.c.shop, o.c.buyer, o.c.amount_cents, o.c.created_at,
               stats.c.total, stats.c.used, stats.c.open, stats.c.last)
        .outerjoin(stats, stats.c.subject_id == o.c.id)
        .where(o.c.status == "unpaid", o.c.buyer.isnot(None), o.c.created_at.isnot(None),
               o.c.created_at <= newest, o.c.created_at >= oldest)
        .order_by(o.c.created_at)
    )
    decisions = []
    for row in rows:
        policy = policies.for_order(row.shop)
        customer = order_customer(row.platform, row.buyer)
        stop = facts.stop_reason(customer, row.order_id, row.created_at, policy, now)
        expired = row.created_at + timedelta(hours=policy.stop_after_hours) < now
        first = row.created_at + timedelta(minutes=policy.first_after_minutes)
        plan, reason, due = _decide(policy, first, row, now, stop, expired)
        decision = Decision("order", row.id, row.order_id, customer, row.platform, row.buyer, row.shop,
                            policy.name, (row.total or 0) + 1, plan, reason, due)
        if plan:
            decision.text, error = render(policy.template(row.platform), {
                "shop": row.shop or "本店", "order_id": row.order_id, "amount": yuan(row.amount_cents)})
            if error:
                decision.plan, decision.reason = False, error
        decisions.append(decision)
    return decisions


def bill_decisions(session: Session, policies: Policies, facts: StopFacts, now: datetime) -> List[Decision]:
    b = Bill.__table__
    stats = _stats("bill")
    everyone = [policies.bill_default, *policies.kinds.values()]
    today = now.astimezone(SHANGHAI).date()
    # Widest window over every policy; each bill is then judged by its own.
    latest_due = today - timedelta(days=min(p.first_offset_days for p in everyone)) + timedelta(days=1)
    earliest_due = today - timedelta(days=max(p.stop_after_days for p in everyone)) - timedelta(days=1)
    rows = session.execute(
        select(b.c.id, b.c.customer_id, b.c.channel, b.c.address, b.c.kind, b.c.amount_cents, b.c.due_date,
               b.c.period, b.c.created_at, stats.c.total, stats.c.used, stats.c.open, stats.c.last)
        .outerjoin(stats, stats.c.subject_id == b.c.id)
        .where(b.c.status == "unpaid", b.c.due_date <= latest_due, b.c.due_date >= earliest_due)
        .order_by(b.c.due_date, b.c.id)
    )
    decisions = []
    for row in rows:
        policy = policies.for_bill(row.kind)
        customer = bill_customer(row.channel, row.address)
        first = policy.first_bill_reminder(row.due_date)
        stop = facts.stop_reason(customer, None, row.created_at, policy, now)
        expired = first + timedelta(days=policy.stop_after_days) < now
        plan, reason, due = _decide(policy, first, row, now, stop, expired)
        decision = Decision("bill", row.id, f"{row.kind} {row.period}", customer, row.channel, row.address,
                            None, policy.name, (row.total or 0) + 1, plan, reason, due)
        if plan:
            decision.text, error = render(policy.template(row.channel), {
                "kind": row.kind, "period": row.period, "amount": yuan(row.amount_cents),
                "due_date": china_date(row.due_date), "customer_id": row.customer_id})
            if error:
                decision.plan, decision.reason = False, error
        decisions.append(decision)
    return decisions


def decide(session: Session, policies: Policies, now: datetime) -> List[Decision]:
    facts = StopFacts.load(session)
    return order_decisions(session, policies, facts, now) + bill_decisions(session, policies, facts, now)


def _insert(session: Session, decisions: Iterable[Decision], now: datetime) -> int:
    rows = [{
        "subject_type": d.subject_type, "subject_id": d.subject_id, "seq": d.seq, "policy": d.policy,
        "channel": d.channel, "customer_id": d.customer_id, "address": d.address, "shop": d.shop,
        # The ad-law check runs here, so the stored text is exactly what goes out.
        "text": check_outgoing(d.text, d.channel, d.customer_id),
        "status": ReminderStatus.pending.value, "due_at": d.due_at, "attempts": 0, "created_at": now,
    } for d in decisions]
    if not rows:
        return 0
    dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
    inserted = 0
    for start in range(0, len(rows), 5000):
        chunk = rows[start:start + 5000]
        # A concurrent planner that queued the same n-th reminder wins; skip ours.
        result = session.execute(dialect.insert(Reminder.__table__).on_conflict_do_nothing(), chunk)
        inserted += max(result.rowcount, 0) if result.rowcount is not None else len(chunk)
    return inserted


def plan(session: Session, policies: Policies, now: datetime) -> int:
    """Queue every reminder that is due now; returns how many were queued."""
    if session.bind.dialect.name == "postgresql":
        # Planners of several workers would do the same work; one is enough.
        if not session.execute(text("SELECT pg_try_advisory_xact_lock(:id)"), {"id": PLAN_LOCK_ID}).scalar():
            session.rollback()
            return 0
    decisions = [d for d in decide(session, policies, now) if d.plan]
    count = _insert(session, decisions, now)
    session.commit()
    return count
