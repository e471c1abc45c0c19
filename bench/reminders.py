"""Reminder throughput: 100,000 unpaid orders and 100,000 unpaid bills, sent by
1 and by 4 `kefu reminders run` workers on PostgreSQL to a fake TOP gateway.

    .venv/bin/python bench/reminders.py [--orders 100000] [--bills 100000] [--workers 1,4]

Each run gets a fresh PostgreSQL database (created and dropped here, on
KEFU_TEST_PG_ADMIN_URL, default postgresql://postgres@127.0.0.1:5432/test).
Bills go to Tmall buyers here so that one fake gateway sees every reminder
and can count duplicates. Prints, per worker count: reminders/second from
the workers' start until every reminder is settled (planning included),
the planning time, duplicates (seen by the gateway), misses (due reminders
that never reached it) and uncertain rows.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from kefu.core.db import make_engine, upgrade  # noqa: E402
from kefu.core.models import Bill, Order, Reminder, utcnow  # noqa: E402

ADMIN_URL = os.environ.get("KEFU_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")
POLICY = """
orders:
  default:
    first_after_minutes: 1
    max_reminders: 1
    min_gap_minutes: 60
    quiet_hours: none   # the benchmark may run at night
    templates:
      taobao: "亲，您好！您拍下的订单{order_id}（¥{amount}）还未付款哦，请在「我的淘宝-待付款」中完成支付，谢谢您的支持！"
bills:
  default:
    first_offset_days: -3
    send_time: "00:00"
    max_reminders: 1
    min_gap_minutes: 60
    quiet_hours: none
    templates:
      tmall: "您好！您的{period}{kind}¥{amount}将于{due_date}到期，请及时缴纳。如已缴纳请忽略本消息，谢谢！"
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def create_database() -> str:
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT", future=True)
    name = f"kefu_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    name = make_url(url).database
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT", future=True)
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name})
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def seed(url: str, orders: int, bills: int) -> None:
    upgrade(url)
    engine = make_engine(url)
    created = utcnow() - timedelta(minutes=10)
    due = date.today() + timedelta(days=2)
    with engine.begin() as conn:
        for start in range(0, orders, 10000):
            conn.execute(
                insert(Order),
                [
                    {
                        "platform": "taobao",
                        "order_id": str(10**12 + n),
                        "shop": "压测店",
                        "buyer": f"o-{n}",
                        "amount_cents": 1000 + n % 9000,
                        "status": "unpaid",
                        "created_at": created,
                        "updated_at": created,
                    }
                    for n in range(start, min(orders, start + 10000))
                ],
            )
        for start in range(0, bills, 10000):
            conn.execute(
                insert(Bill),
                [
                    {
                        "customer_id": f"C{n}",
                        "channel": "tmall",
                        "address": f"b-{n}",
                        "kind": "物业费",
                        "amount_cents": 26850,
                        "due_date": due,
                        "period": "2026年11月",
                        "status": "unpaid",
                        "created_at": created,
                    }
                    for n in range(start, min(bills, start + 10000))
                ],
            )
    engine.dispose()


def stats(gateway_url: str) -> dict:
    with urllib.request.urlopen(gateway_url.replace("/router/rest", "/stats"), timeout=30) as resp:
        return json.loads(resp.read())


def outbox(url: str, engine) -> dict:
    with engine.connect() as conn:
        return dict(conn.execute(select(Reminder.status, func.count()).group_by(Reminder.status)).all())


def run(workers: int, orders: int, bills: int, tmp: Path) -> dict:
    url = create_database()
    gateway = worker_procs = None
    try:
        seed(url, orders, bills)
        port = free_port()
        gateway = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "fast_top_gateway.py"), "--port", str(port)],
            stdout=subprocess.PIPE,
            text=True,
        )
        gateway_url = gateway.stdout.readline().strip()
        policy = tmp / "policy.yml"
        policy.write_text(POLICY, encoding="utf-8")
        env = {
            **os.environ,
            "KEFU_DATABASE_URL": url,
            "KEFU_REMINDER_POLICIES": str(policy),
            "TAOBAO_APP_KEY": "bench",
            "TAOBAO_APP_SECRET": "top-secret",
            "TAOBAO_SESSION": "s",
            "TAOBAO_API_BASE": gateway_url,
            "KEFU_TMC_PULL": "0",
            "KEFU_REMINDER_INTERVAL_SECONDS": "0.2",
        }
        total = orders + bills
        engine = make_engine(url)
        started = time.monotonic()
        worker_procs = [
            subprocess.Popen(
                [sys.executable, "-m", "kefu.cli", "reminders", "run"],
                cwd=ROOT,
                env=env,
                stdout=(tmp / f"w{workers}-{i}.log").open("w"),
                stderr=subprocess.STDOUT,
            )
            for i in range(workers)
        ]
        planned_at = None
        while True:
            counts = outbox(url, engine)
            if planned_at is None and sum(counts.values()) >= total:
                planned_at = time.monotonic() - started
            if sum(counts.values()) >= total and not any(counts.get(s) for s in ("pending", "claimed", "sending")):
                break
            if time.monotonic() - started > 1800:
                raise SystemExit(f"not settled after 30 min: {counts}")
            time.sleep(1)
        elapsed = time.monotonic() - started
        seen = stats(gateway_url)
        engine.dispose()
        return {
            "workers": workers,
            "reminders": total,
            "seconds": elapsed,
            "planning_seconds": planned_at,
            "per_second": total / elapsed,
            "duplicates": seen["duplicates"],
            "misses": total - seen["receivers"],
            "uncertain": counts.get("uncertain", 0),
            "failed": counts.get("failed", 0),
            "bad_signatures": seen["bad_signatures"],
        }
    finally:
        for proc in worker_procs or []:
            proc.send_signal(signal.SIGTERM)
        for proc in worker_procs or []:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                print(f"worker {proc.pid} did not stop on SIGTERM; killed", file=sys.stderr)
                proc.kill()
        if gateway is not None:
            gateway.kill()
            gateway.wait()
        drop_database(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--bills", type=int, default=100_000)
    parser.add_argument("--workers", default="1,4")
    args = parser.parse_args()
    print(f"{args.orders} unpaid orders + {args.bills} unpaid bills, PostgreSQL, fake TOP gateway on loopback")
    print(
        f"{'workers':>7} {'reminders':>9} {'seconds':>8} {'planning s':>10} {'per second':>10} "
        f"{'duplicates':>10} {'misses':>6} {'uncertain':>9} {'failed':>6}"
    )
    with tempfile.TemporaryDirectory(prefix="kefu-bench-") as tmp:
        for workers in (int(w) for w in args.workers.split(",")):
            r = run(workers, args.orders, args.bills, Path(tmp))
            print(
                f"{r['workers']:>7} {r['reminders']:>9} {r['seconds']:>8.1f} {r['planning_seconds']:>10.1f} "
                f"{r['per_second']:>10.0f} {r['duplicates']:>10} {r['misses']:>6} {r['uncertain']:>9} "
                f"{r['failed']:>6}",
                flush=True,
            )


if __name__ == "__main__":
    main()
