"""Several `kefu reminders run` processes on the real PostgreSQL, one of them
killed with SIGKILL in the middle of a batch: no customer gets a reminder
twice, and every due reminder ends `sent` or `uncertain`."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kefu.core.db import make_engine, upgrade
from kefu.core.models import Order, Reminder, utcnow
from tests.support.stack import ROOT, wait_for

ORDERS = 1500
POLICY = """
orders:
  default:
    first_after_minutes: 1
    max_reminders: 1
    min_gap_minutes: 60
    quiet_hours: none
    templates:
      taobao: "亲，您的订单{order_id}（¥{amount}）还未付款哦，请尽快完成支付，谢谢！"
bills:
  default:
    max_reminders: 1
    min_gap_minutes: 60
    quiet_hours: none
    templates: {}
"""


@pytest.fixture()
def gateway():
    from tests.support.fake_top_api import FakeTopAPI

    # A little latency per call, so a batch is in flight long enough to be killed in.
    return FakeTopAPI(delay=0.02).start()


def seed(url: str, count: int) -> None:
    upgrade(url)
    created = utcnow() - timedelta(minutes=10)
    with Session(make_engine(url), future=True) as session:
        session.add_all(
            Order(
                platform="taobao",
                order_id=str(900000 + n),
                shop="测试店",
                buyer=f"buyer-{n}",
                amount_cents=1000 + n,
                status="unpaid",
                created_at=created,
            )
            for n in range(count)
        )
        session.commit()


def start_workers(n: int, url: str, gateway, tmp_path: Path):
    policy = tmp_path / "policy.yml"
    policy.write_text(POLICY, encoding="utf-8")
    env = {
        **os.environ,
        "KEFU_DATABASE_URL": url,
        "KEFU_REMINDER_POLICIES": str(policy),
        "TAOBAO_APP_KEY": "app",
        "TAOBAO_APP_SECRET": gateway.secret,
        "TAOBAO_SESSION": "s",
        "TAOBAO_API_BASE": gateway.url,
        "KEFU_TMC_PULL": "0",
        "KEFU_REMINDER_LEASE_SECONDS": "4",
        "KEFU_REMINDER_INTERVAL_SECONDS": "0.5",
        "KEFU_REMINDER_PLAN_SECONDS": "1",
        "KEFU_REMINDER_BATCH": "40",
        "KEFU_REMINDER_CONCURRENCY": "8",
    }
    return [
        subprocess.Popen(
            [sys.executable, "-m", "kefu.cli", "reminders", "run"],
            cwd=ROOT,
            env=env,
            stdout=(tmp_path / f"worker{i}.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        for i in range(n)
    ]


def statuses(url: str) -> dict:
    with Session(make_engine(url), future=True) as session:
        return dict(session.execute(select(Reminder.status, func.count()).group_by(Reminder.status)).all())


def settled(url: str) -> bool:
    counts = statuses(url)
    return sum(counts.values()) == ORDERS and not any(counts.get(s) for s in ("pending", "claimed", "sending"))


def sending_rows_of(url: str, pid: int) -> int:
    with Session(make_engine(url), future=True) as session:
        return session.execute(
            select(func.count())
            .select_from(Reminder)
            .where(Reminder.status == "sending", Reminder.lease_owner.like(f"%-{pid}-%"))
        ).scalar()


def frozen_mid_batch(proc: subprocess.Popen, url: str, timeout: float) -> bool:
    """Stop proc (SIGSTOP) at a moment it has rows marked `sending`, checked
    again while it is stopped: a batch takes a fraction of a second, less
    than one poll of a busy machine, so "seen sending, then killed" could
    kill it after the batch was done. Stopped, it cannot finish the batch."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if sending_rows_of(url, proc.pid) > 0:
            proc.send_signal(signal.SIGSTOP)
            if sending_rows_of(url, proc.pid) > 0:
                return True
            proc.send_signal(signal.SIGCONT)
        time.sleep(0.05)
    return False


def stop(workers) -> None:
    for proc in workers:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in workers:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def received(gateway) -> dict:
    per_buyer: dict = {}
    for message in list(gateway.sent):
        for buyer in message["receivers"]:
            per_buyer[buyer] = per_buyer.get(buyer, 0) + 1
    return per_buyer


def rows_by_buyer(url: str) -> dict:
    with Session(make_engine(url), future=True) as session:
        return {address: status for address, status in session.execute(select(Reminder.address, Reminder.status))}


def test_three_workers_one_killed_mid_batch_no_duplicates_nothing_lost(postgres_url, gateway, tmp_path):
    seed(postgres_url, ORDERS)
    workers = start_workers(3, postgres_url, gateway, tmp_path)
    try:
        victim = workers[0]
        # Kill it exactly while it has a batch marked `sending`, i.e. mid-call.
        assert frozen_mid_batch(victim, postgres_url, timeout=60), (tmp_path / "worker0.log").read_text()[-3000:]
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        assert wait_for(lambda: settled(postgres_url), timeout=120), statuses(postgres_url)
    finally:
        stop(workers)
    per_buyer = received(gateway)
    rows = rows_by_buyer(postgres_url)
    assert gateway.bad_signatures == 0
    assert [b for b, n in per_buyer.items() if n > 1] == [], "a customer got the same reminder twice"
    assert len(rows) == ORDERS and set(rows.values()) <= {"sent", "uncertain"}
    assert all(per_buyer.get(buyer) == 1 for buyer, status in rows.items() if status == "sent")
    uncertain = [b for b, s in rows.items() if s == "uncertain"]
    assert uncertain, "the killed worker's in-flight batch must be marked uncertain"
    assert len(uncertain) <= 40  # at most the one batch it was sending
    assert workers[1].returncode == 0 and workers[2].returncode == 0


def test_two_workers_without_faults_send_everything_exactly_once(postgres_url, gateway, tmp_path):
    seed(postgres_url, ORDERS)
    workers = start_workers(2, postgres_url, gateway, tmp_path)
    try:
        assert wait_for(lambda: settled(postgres_url), timeout=120), statuses(postgres_url)
    finally:
        stop(workers)
    per_buyer = received(gateway)
    assert statuses(postgres_url) == {"sent": ORDERS}
    assert len(per_buyer) == ORDERS and set(per_buyer.values()) == {1}
    # Both workers did part of the work (the claims really are shared).
    logs = [(tmp_path / f"worker{i}.log").read_text() for i in range(2)]
    assert all(re.search(r"sent [1-9]", log) for log in logs), logs
