"""Platform-message claims (kefu/core/deliveries.py): one server answers each
message; a claim left by a server that died mid-turn is taken over, never
left to lose the message. SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy.orm import Session

from kefu.core.db import make_engine
from kefu.core.deliveries import Claim, claim_delivery, finish_delivery, release_delivery
from kefu.core.models import utcnow

STALE = timedelta(seconds=5)


def claim(engine, key: str, now=None) -> Claim:
    with Session(engine) as session:
        return claim_delivery(session, "wechat", key, now, STALE)


def test_first_claim_wins_and_retries_wait_until_it_is_finished(migrated_database_url):
    engine = make_engine(migrated_database_url)
    with ThreadPoolExecutor(4) as pool:
        claims = list(pool.map(lambda _: claim(engine, "msg:1"), range(4)))
    assert claims.count(Claim.new) == 1 and claims.count(Claim.in_flight) == 3
    with Session(engine) as session:
        finish_delivery(session, "wechat", "msg:1")
    assert claim(engine, "msg:1") is Claim.done
    # Long after, a finished message stays answered.
    assert claim(engine, "msg:1", utcnow() + timedelta(hours=1)) is Claim.done


def test_a_claim_its_server_never_finished_is_taken_over_once(migrated_database_url):
    engine = make_engine(migrated_database_url)
    assert claim(engine, "msg:2") is Claim.new  # this server dies now
    assert claim(engine, "msg:2") is Claim.in_flight  # a retry at once: wait
    later = utcnow() + STALE + timedelta(seconds=1)
    with ThreadPoolExecutor(3) as pool:  # retries after the claim went stale
        claims = list(pool.map(lambda _: claim(engine, "msg:2", later), range(3)))
    assert claims.count(Claim.new) == 1, claims
    assert claim(engine, "msg:2", later) is Claim.in_flight


def test_a_released_claim_can_be_claimed_again(migrated_database_url):
    engine = make_engine(migrated_database_url)
    assert claim(engine, "msg:3") is Claim.new
    with Session(engine) as session:
        release_delivery(session, "wechat", "msg:3")  # processing failed cleanly
    assert claim(engine, "msg:3") is Claim.new


def test_pulled_messages_left_by_a_dead_server_are_handed_to_one_taker(migrated_database_url):
    from kefu.core.deliveries import take_over_stale

    engine = make_engine(migrated_database_url)
    with Session(engine) as session:
        assert claim_delivery(session, "wecom", "m-dead", None, STALE, '{"msgid": "m-dead"}') is Claim.new
        assert claim_delivery(session, "wecom", "m-done", None, STALE, '{"msgid": "m-done"}') is Claim.new
        finish_delivery(session, "wecom", "m-done")
        assert claim_delivery(session, "wecom", "m-live", utcnow() + STALE * 2, STALE, "{}") is Claim.new
    later = utcnow() + STALE + timedelta(seconds=1)

    def take(_):
        with Session(engine) as session:
            return take_over_stale(session, "wecom", later, STALE)

    with ThreadPoolExecutor(3) as pool:
        taken = [p for payloads in pool.map(take, range(3)) for p in payloads]
    assert taken == ['{"msgid": "m-dead"}']  # not the finished one, not the fresh one, once
