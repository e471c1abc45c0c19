"""`kefu reminders run|preview|list`."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

from sqlalchemy.orm import sessionmaker

from kefu.core.db import ThreadedSessions, make_engine, upgrade
from kefu.core.models import SHANGHAI, utcnow
from kefu.core.reminder_outbox import counts, list_reminders
from kefu.core.settings import (
    ChannelSettings,
    ReminderSettings,
    load_channel_settings,
    load_reminder_settings,
    load_settings,
)
from kefu.reminders.plan import decide
from kefu.reminders.policy import PolicyError, load_policies
from kefu.reminders.send import Senders
from kefu.reminders.worker import ReminderWorker, WorkerSettings


def main(args) -> int:
    reminders = load_reminder_settings()
    try:
        policies = load_policies(reminders.policies_file)
    except PolicyError as exc:
        print(f"error: reminder policies: {exc}", file=sys.stderr)
        return 2
    url = load_settings().database_url
    upgrade(url)
    sessions = sessionmaker(make_engine(url), future=True, expire_on_commit=False)
    if args.reminders_command == "run":
        try:
            import uvloop  # comes with Rasa (sanic); halves the HTTP client's cost per reminder

            uvloop.install()
        except ImportError:
            pass
        return asyncio.run(run(sessions, policies, reminders, load_channel_settings()))
    if args.reminders_command == "preview":
        return preview(sessions, policies, args.all)
    return show(sessions, args.status, args.limit)


async def run(sessions, policies, reminders: ReminderSettings, channels: ChannelSettings) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    senders = Senders.from_settings(channels)
    worker = ReminderWorker(sessions, senders, policies, WorkerSettings.from_settings(reminders))
    extra = tmc_pull(senders, channels.taobao.tmc_group) if reminders.tmc_pull else None
    log = logging.getLogger("kefu.reminders")
    log.info("reminder worker %s started", worker.worker_id)
    grace = reminders.stop_seconds
    working = asyncio.ensure_future(worker.run_forever(stop, extra))
    stop_requested = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait([working, stop_requested], return_when=asyncio.FIRST_COMPLETED)
        stop_requested.cancel()
        # The batch in hand is finished and recorded if that takes less than
        # the grace time; the process stops in any case.
        done, _ = await asyncio.wait([working], timeout=grace)
    finally:
        await senders.close()
    if not done:
        # A database call still waits in its thread, and a thread cannot be
        # interrupted: leave now, as a crash would. Its transaction is rolled
        # back, and the leases give its batch back (rows mid-send become
        # `uncertain`, never sent twice).
        log.warning(
            "reminder worker %s still busy %.0f s after the stop request; stopping now", worker.worker_id, grace
        )
        import faulthandler

        faulthandler.dump_traceback(all_threads=True)
        logging.shutdown()
        os._exit(0)
    working.result()
    log.info("reminder worker %s stopped", worker.worker_id)
    return 0


MAX_PULLS_PER_ROUND = 20


def tmc_pull(senders: Senders, group: str):
    """Trade events pulled from TMC between rounds, when Taobao is configured."""
    if senders.top is None:
        return None
    from connectors.tmc_pull import pull_once

    store = ThreadedSessions()

    async def pull() -> None:
        # Bounded per round: a flood of trade events (双11) must not starve
        # the reminders or a stop request.
        for _ in range(MAX_PULLS_PER_ROUND):
            if await pull_once(senders.top, store, group) == 0:
                break

    return pull


def preview(sessions, policies, show_all: bool) -> int:
    now = utcnow()
    with sessions() as session:
        decisions = list(decide(session, policies, now))
    queued = [d for d in decisions if d.plan]
    print(
        f"now {now.astimezone(SHANGHAI):%Y-%m-%d %H:%M} (China time): "
        f"{len(queued)} reminder(s) would be queued, {len(decisions) - len(queued)} not"
    )
    for d in decisions:
        if d.plan or show_all:
            mark = "SEND" if d.plan else "skip"
            print(f"{mark} {d.subject_type} {d.label} -> {d.customer_id} #{d.seq} [{d.policy}]: {d.reason}")
            if d.plan:
                print(f"     {d.text}")
    return 0


def show(sessions, status, limit: int) -> int:
    with sessions() as session:
        print("outbox:", ", ".join(f"{k} {v}" for k, v in sorted(counts(session).items())) or "empty")
        for row in list_reminders(session, status, limit):
            print(
                f"{row.id} {row.status} {row.subject_type}#{row.subject_id} seq {row.seq} "
                f"{row.customer_id} {row.error or ''}"
            )
    return 0
