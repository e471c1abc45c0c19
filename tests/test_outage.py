"""The desk database goes away while the bot runs: customers get a polite
"system busy" answer (not silence), the operator a clear log line, and the
bot recovers by itself when the database is back."""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from kefu.core.db import upgrade
from tests.support.stack import PG_ADMIN_URL, new_sender, start_stack, stop_stack


def test_database_outage_is_answered_politely_and_recovers(tmp_path, postgres_url):
    stack = start_stack(tmp_path, {"KEFU_DATABASE_URL": postgres_url, "KEFU_REMINDER_WORKERS": "0"})
    name = make_url(postgres_url).database
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", future=True)
    try:
        before = "\n".join(stack.say(new_sender(), "快递员态度太差了，我要投诉"))
        assert "工单号" in before, before
        with admin.connect() as conn:  # the database disappears
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name})
            conn.execute(text(f'DROP DATABASE "{name}"'))
        during = "\n".join(stack.say(new_sender(), "物业维修太慢了，我要投诉"))
        assert "系统暂时繁忙" in during, during
        log = stack.log_path.read_text()
        assert "desk database unreachable in action_handle_complaint" in log
        with admin.connect() as conn:  # ... and comes back
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        upgrade(postgres_url)
        after = "\n".join(stack.say(new_sender(), "客服不理人，我要投诉"))
        assert "工单号" in after, after
    finally:
        stop_stack(stack)
        admin.dispose()
