"""`kefu reminders run` stops within 5 s of SIGTERM, even while a database
call of its waits (here: for a lock another connection holds)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from sqlalchemy import create_engine, text

from kefu.core.db import upgrade
from tests.support.stack import ROOT, wait_for

STOP_DEADLINE_SECONDS = 5


def test_sigterm_stops_a_worker_whose_database_call_waits(postgres_url, tmp_path):
    upgrade(postgres_url)
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "KEFU_DATABASE_URL": postgres_url,
        "KEFU_TMC_PULL": "0",
        "KEFU_REMINDER_INTERVAL_SECONDS": "0.2",
        "KEFU_REMINDER_STOP_SECONDS": "2",
    }
    engine = create_engine(postgres_url, future=True)
    holder = engine.connect()
    worker = None
    try:
        holder.execute(text("LOCK TABLE reminders IN ACCESS EXCLUSIVE MODE"))
        worker = subprocess.Popen(
            [sys.executable, "-m", "kefu.cli", "reminders", "run"],
            cwd=ROOT,
            env=env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )

        def worker_waits_for_the_lock() -> bool:
            with engine.connect() as conn:
                return (
                    conn.execute(
                        text(
                            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                        )
                    ).scalar()
                    > 0
                )

        assert wait_for(worker_waits_for_the_lock, timeout=120), log.read_text()[-2000:]
        asked = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        try:
            code = worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            code = None
        took = time.monotonic() - asked
        assert code == 0 and took < STOP_DEADLINE_SECONDS, (code, took, log.read_text()[-2000:])
        assert "still busy" in log.read_text()
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
            worker.wait()
        holder.rollback()
        holder.close()
        engine.dispose()
