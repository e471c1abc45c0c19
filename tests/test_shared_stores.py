"""Rasa on shared stores (the building block of the scaled profile): the
conversation in PostgreSQL (Rasa's SQL tracker store) and Rasa's Redis lock
store, chosen by KEFU_TRACKER_URL and KEFU_REDIS_URL."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import create_engine, text

from tests.support.stack import new_sender, start_stack, stop_stack


def test_conversations_live_in_postgresql_with_the_redis_lock_store(tmp_path, postgres_url):
    prefix = f"kefutest{uuid.uuid4().hex[:8]}"
    stack = start_stack(
        tmp_path,
        {
            "KEFU_DATABASE_URL": postgres_url,
            "KEFU_TRACKER_URL": postgres_url,
            "KEFU_REDIS_URL": "redis://127.0.0.1:6379/0",
            "KEFU_REDIS_PREFIX": prefix,
            "KEFU_REMINDER_WORKERS": "0",
        },
    )
    try:
        sender = new_sender("shared")
        assert "工单号" in "\n".join(stack.say(sender, "快递太慢了，我要投诉"))
        # Two turns of one conversation at once: the lock store serialises them.
        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(lambda t: stack.say(sender, t), ["你好", "谢谢"]))
        assert all(answers)
        engine = create_engine(postgres_url, future=True)
        with engine.connect() as conn:
            users = conn.execute(
                text("SELECT count(*) FROM events WHERE sender_id = :s AND type_name = 'user'"), {"s": sender}
            ).scalar()
        engine.dispose()
        assert users == 3
    finally:
        stop_stack(stack)


def test_without_its_redis_lock_store_the_customer_gets_a_polite_busy_answer(tmp_path, postgres_url):
    """Proof that the lock store really is Redis, and what a customer sees when
    it is down: a polite "busy" text, not silence and not a crash."""
    stack = start_stack(
        tmp_path,
        {
            "KEFU_DATABASE_URL": postgres_url,
            "KEFU_TRACKER_URL": postgres_url,
            "KEFU_REDIS_URL": "redis://127.0.0.1:1/0",
            "KEFU_REMINDER_WORKERS": "0",
        },
    )
    try:
        answer = "\n".join(stack.say(new_sender("no-redis"), "快递太慢了，我要投诉"))
        assert "系统" in answer and "忙" in answer, answer
        assert stack.proc.poll() is None  # still running, ready when Redis is back
    finally:
        stop_stack(stack)
