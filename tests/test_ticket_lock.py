"""Rasa's per-conversation ticket lock with waiting turns' tickets kept
alive (kefu/runtime/ticket_lock.py): a turn queued behind a server that died
mid-turn gets the lock once the dead turn's ticket expires, even when its
own ticket was issued in the same instant, and the waiting turns keep their
order."""

from __future__ import annotations

import asyncio

import pytest
from rasa.core.lock_store import InMemoryLockStore, LockStore

from kefu.runtime import ticket_lock


@pytest.fixture
def renewing_lock(monkeypatch):
    monkeypatch.setattr(LockStore, "lock", LockStore.lock)  # restored after the test
    ticket_lock.apply()


def test_a_turn_behind_a_dead_servers_ticket_is_served_in_order(renewing_lock):
    async def scenario() -> list[str]:
        store = InMemoryLockStore()
        # The turn that was running when its server died: never cleaned up.
        store.issue_ticket("wechat:老王", 0.3)
        served: list[str] = []

        async def turn(name: str, delay: float) -> None:
            await asyncio.sleep(delay)
            # Its ticket (0.3 s) ends within the same poll (0.5 s) as the dead one.
            async with store.lock("wechat:老王", lock_lifetime=0.3, wait_time_in_seconds=0.5):
                served.append(name)
                await asyncio.sleep(0.4)  # outlives its own lifetime while running

        await asyncio.wait_for(asyncio.gather(turn("retried", 0), turn("next", 0.05)), timeout=10)
        assert store.get_lock("wechat:老王") is None  # cleaned up: the next message waits for nothing
        return served

    assert asyncio.run(scenario()) == ["retried", "next"]
