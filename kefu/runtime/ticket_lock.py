"""Rasa's per-conversation ticket lock, with the tickets of waiting turns
kept alive.

Rasa orders the turns of one conversation with tickets that expire a fixed
time after they were issued (`TICKET_LOCK_LIFETIME`, 60 s), so that the
ticket of a server that died mid-turn does not block the conversation for
ever. But a turn that waits behind such a ticket ages too: the dead server's
turn started less than a second before the waiting one (nginx retries it on
the other server at once), so both tickets expire within the same poll
interval. The waiting turn's own ticket is then gone, `is_locked` stays true
for it, and Rasa's loop waits for ever: nginx gives the customer a 502 after
its read time-out (seen in tests/test_scaled.py's kill test).

A waiting turn is alive by definition (it is polling), so it renews its own
ticket on each poll; only the tickets of turns nobody runs any more expire.
Its number never changes, so the conversation's order is kept.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import LockStore


def _renew(lock: TicketLock, number: int, lifetime: float) -> None:
    """Give ticket `number` a full lifetime from now, putting it back in its
    place if it has just expired."""
    expires = time.time() + lifetime
    for ticket in lock.tickets:
        if ticket.number == number:
            ticket.expires = expires
            return
    tickets = sorted([*lock.tickets, Ticket(number, expires)], key=lambda t: t.number)
    lock.tickets.clear()
    lock.tickets.extend(tickets)


async def _acquire(
    store: LockStore, conversation_id: str, ticket: int, lifetime: float, wait_time_in_seconds: float
) -> TicketLock:
    while True:
        # Drop the tickets of turns nobody runs any more; keep ours, even when
        # the lock itself was cleaned up meanwhile (Rasa would fail the turn).
        lock = store.get_lock(conversation_id) or store.create_lock(conversation_id)
        lock.remove_expired_tickets()
        _renew(lock, ticket, lifetime)
        store.save_lock(lock)
        if not lock.is_locked(ticket):
            return lock
        await asyncio.sleep(wait_time_in_seconds)


@asynccontextmanager
async def _lock(
    self: LockStore, conversation_id: str, lock_lifetime: float | None = None, wait_time_in_seconds: float = 1
) -> AsyncIterator[TicketLock]:
    """Rasa's `LockStore.lock`, waiting with `_acquire`."""
    import rasa.core.lock_store as lock_store

    lifetime = lock_store.LOCK_LIFETIME if lock_lifetime is None else lock_lifetime
    ticket = self.issue_ticket(conversation_id, lifetime)
    try:
        yield await _acquire(self, conversation_id, ticket, lifetime, wait_time_in_seconds)
    finally:
        self.cleanup(conversation_id, ticket)


def apply() -> None:
    LockStore.lock = _lock  # type: ignore[method-assign,assignment]
