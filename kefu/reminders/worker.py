"""`kefu reminders run`: plan due reminders, then claim, check, send, confirm.

Several workers may run at once on PostgreSQL (claims skip each other's
locked rows, planning takes an advisory lock); SQLite keeps to one.

Every database call runs in a worker thread (kefu.core.db.ThreadedSessions), never
on the event loop: a call that waits for a lock or a busy CPU would otherwise
hold the loop, and with it the SIGTERM handler, for as long as it waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kefu.core.db import ThreadedSessions
from kefu.core.models import Bill, Order, Reminder, utcnow
from kefu.core.reminder_outbox import Outcome, claim, finish, mark_sending, recover, release
from kefu.core.settings import ReminderSettings
from kefu.reminders.plan import plan
from kefu.reminders.policy import Policies, Policy
from kefu.reminders.send import CannotSend, NotSent, Senders
from kefu.reminders.stops import StopFacts

logger = logging.getLogger("kefu.reminders")


_DEFAULTS = ReminderSettings()  # the defaults declared in kefu/core/settings.py


@dataclass
class WorkerSettings:
    batch: int = _DEFAULTS.batch
    concurrency: int = _DEFAULTS.concurrency
    lease: timedelta = timedelta(seconds=_DEFAULTS.lease_seconds)
    interval: float = _DEFAULTS.interval_seconds  # idle sleep between rounds
    plan_every: float = _DEFAULTS.plan_seconds  # seconds between planning rounds

    @classmethod
    def from_settings(cls, settings: ReminderSettings) -> WorkerSettings:
        return cls(
            batch=settings.batch,
            concurrency=settings.concurrency,
            lease=timedelta(seconds=settings.lease_seconds),
            interval=settings.interval_seconds,
            plan_every=settings.plan_seconds,
        )


@dataclass
class RoundReport:
    planned: int = 0
    sent: int = 0
    refused: int = 0
    uncertain: int = 0
    failed: int = 0
    cancelled: int = 0
    held: int = 0
    recovered: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Subject:
    status: str
    created_at: datetime | None
    order_id: str | None = None


def _subjects(session: Session, rows: list[Reminder]) -> dict[tuple, Subject]:
    """The orders and bills behind a batch, as they are now."""
    found: dict[tuple, Subject] = {}
    order_ids = [r.subject_id for r in rows if r.subject_type == "order"]
    bill_ids = [r.subject_id for r in rows if r.subject_type == "bill"]
    if order_ids:
        for o in session.execute(
            select(Order.id, Order.status, Order.created_at, Order.order_id).where(Order.id.in_(order_ids))
        ):
            found[("order", o.id)] = Subject(o.status, o.created_at, o.order_id)
    if bill_ids:
        for b in session.execute(select(Bill.id, Bill.status, Bill.created_at).where(Bill.id.in_(bill_ids))):
            found[("bill", b.id)] = Subject(b.status, b.created_at)
    return found


class ReminderWorker:
    def __init__(
        self,
        sessions: sessionmaker,
        senders: Senders,
        policies: Policies,
        settings: WorkerSettings | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.store = ThreadedSessions(factory=sessions)
        self.senders = senders
        self.policies = policies
        self.settings = settings or WorkerSettings()
        self.clock = clock
        self.worker_id = f"{socket.gethostname()[:20]}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._claims = 0
        self._by_name: dict[str, Policy] = {
            p.name: p
            for p in (policies.order_default, policies.bill_default, *policies.shops.values(), *policies.kinds.values())
        }

    async def plan(self, stop: asyncio.Event | None = None) -> int:
        return await self.store.run(
            plan, self.policies, self.clock(), stopping=stop.is_set if stop is not None else (lambda: False)
        )

    async def recover(self) -> int:
        retried, uncertain = await self.store.run(recover, self.clock())
        if retried or uncertain:
            logger.warning("expired leases: %d reminder(s) back in the queue, %d marked uncertain", retried, uncertain)
        return retried + uncertain

    def _check(self, session: Session, rows: list[Reminder], now: datetime, report: RoundReport) -> list[Reminder]:
        """Last look before sending: paid meanwhile? asked to stop? night?"""
        subjects = _subjects(session, rows)
        facts = StopFacts.load(session, {r.customer_id for r in rows})
        moves, cancels, ready = {}, {}, []
        for row in rows:
            policy = self._by_name.get(row.policy) or (
                self.policies.order_default if row.subject_type == "order" else self.policies.bill_default
            )
            subject = subjects.get((row.subject_type, row.subject_id))
            reason: str | None
            if subject is None or subject.status != "unpaid":
                reason = f"{row.subject_type} is {subject.status if subject else 'gone'}"
            else:
                reason = facts.stop_reason(row.customer_id, subject.order_id, subject.created_at, policy, now)
            if reason:
                cancels[row.id] = reason
            elif policy.quiet_hours.contains(now):
                moves[row.id] = policy.quiet_hours.next_allowed(now)
            else:
                ready.append(row)
        release(session, rows[0].lease_owner if rows else "", moves, cancels)
        report.cancelled += len(cancels)
        report.held += len(moves)
        return ready

    async def _send_all(self, rows: list[Reminder]) -> Outcome:
        outcome = Outcome()
        gate = asyncio.Semaphore(self.settings.concurrency)

        async def one(row: Reminder) -> None:
            async with gate:
                try:
                    await self.senders.send(row.channel, row.address, row.text, row.shop)
                    outcome.sent.append(row.id)
                except NotSent as exc:
                    outcome.refused.append((row.id, str(exc)))
                except CannotSend as exc:
                    outcome.failed.append((row.id, str(exc)))
                except Exception as exc:  # the call may have reached the platform
                    logger.warning("reminder %d: outcome unknown: %r", row.id, exc)
                    outcome.uncertain.append((row.id, f"outcome unknown: {exc!r}"))

        await asyncio.gather(*(one(row) for row in rows))
        return outcome

    async def send_batch(self, report: RoundReport) -> int:
        """One claimed batch end to end; returns how many rows were claimed."""
        self._claims += 1
        owner = f"{self.worker_id}-{self._claims}"
        now = self.clock()

        def claim_and_check(session: Session) -> tuple[list[Reminder], list[Reminder], set[int]]:
            rows = claim(session, owner, now, self.settings.batch, self.settings.lease)
            if not rows:
                return rows, [], set()
            ready = self._check(session, rows, now, report)
            return rows, ready, mark_sending(session, owner, [r.id for r in ready], self.clock(), self.settings.lease)

        rows, ready, marked = await self.store.run(claim_and_check)
        if not rows:
            return 0
        if len(marked) < len(ready):
            logger.warning(
                "%d reminder(s) of batch %s were taken over after the lease expired; not sent here",
                len(ready) - len(marked),
                owner,
            )
        outcome = await self._send_all([r for r in ready if r.id in marked])
        await self.store.run(finish, owner, outcome, self.clock())
        report.sent += len(outcome.sent)
        report.refused += len(outcome.refused)
        report.uncertain += len(outcome.uncertain)
        report.failed += len(outcome.failed)
        for row_id, error in outcome.failed + outcome.refused:
            logger.error("reminder %d not sent: %s", row_id, error)
        return len(rows)

    async def run_round(self, do_plan: bool = True, stop: asyncio.Event | None = None) -> RoundReport:
        report = RoundReport()

        def stopping() -> bool:
            return stop is not None and stop.is_set()

        report.recovered = await self.recover()
        if do_plan and not stopping():
            report.planned = await self.plan(stop)
        # A stop request ends the round between batches, never inside one.
        while not stopping() and await self.send_batch(report):
            pass
        return report

    async def run_forever(self, stop: asyncio.Event, extra: Callable | None = None) -> None:
        # Planning runs beside the sending, in its own thread: a long planning
        # pass (every open order and bill) must not hold up due reminders.
        planner = asyncio.ensure_future(self._plan_forever(stop))
        try:
            await self._send_forever(stop, extra)
        finally:
            await planner

    async def _plan_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                planned = await self.plan(stop)
                if planned:
                    logger.info("reminders: planned %d", planned)
            except Exception:
                logger.exception("reminder planning failed; retrying in %.0f s", self.settings.plan_every)
            await _sleep_unless(stop, self.settings.plan_every)

    async def _send_forever(self, stop: asyncio.Event, extra: Callable | None) -> None:
        while not stop.is_set():
            if extra is not None:
                try:
                    await extra()
                except Exception:
                    logger.exception("trade-event pull failed; reminders go on")
            try:
                report = await self.run_round(False, stop)
                if report.sent or report.uncertain or report.failed or report.cancelled:
                    logger.info(
                        "reminders: sent %d, cancelled %d, held %d, refused %d, uncertain %d, failed %d",
                        report.sent,
                        report.cancelled,
                        report.held,
                        report.refused,
                        report.uncertain,
                        report.failed,
                    )
            except Exception:
                # A database or network outage must not end the loop; the
                # leases make whatever was half done safe to pick up again.
                logger.exception("reminder round failed; retrying in %.0f s", self.settings.interval)
            await _sleep_unless(stop, self.settings.interval)


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
