"""How many customer messages the Rasa server works on at once.

Rasa starts on every message as it arrives and interleaves them all on its
one event loop. With 50 customers writing at once, a message that calls the
action server once or twice waits behind every other message each time it
resumes, so the slowest took 2.4 times the median (bench/chat_load.py
--target stock, 2026-12-02: p50 340 ms, p99 820 ms at 130 msg/s). Admitting
a few at a time, in arrival order, lets the admitted ones finish before more
start: the same throughput, and no customer waits much longer than another
(p99 about 500 ms).

A message in progress for longer than `slow_after` (an action waiting on a
platform's API) stops counting, so a slow API holds the other customers up
for that long at most. `KEFU_RASA_CONCURRENCY` sets the limit; 0 turns the
admission off.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

SLOW_AFTER = 1.0  # seconds; far above a normal message's own work (~10 ms CPU)

T = TypeVar("T")


class Admission:
    """At most `limit` messages in progress on one event loop, admitted in
    arrival order."""

    def __init__(self, limit: int, slow_after: float = SLOW_AFTER) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.slow_after = slow_after
        self.active = 0
        self._waiting: deque[asyncio.Future[None]] = deque()

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        if self.active < self.limit and not self._waiting:
            self.active += 1
        else:
            admitted: asyncio.Future[None] = loop.create_future()
            self._waiting.append(admitted)
            try:
                await admitted  # the slot is handed over, already counted
            except asyncio.CancelledError:
                if admitted.done() and not admitted.cancelled():
                    self._release()  # handed a slot just as the wait was cancelled
                else:
                    self._waiting.remove(admitted)
                raise
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._release()

        slow = loop.call_later(self.slow_after, release)
        try:
            yield
        finally:
            slow.cancel()
            release()

    def _release(self) -> None:
        while self._waiting:
            admitted = self._waiting.popleft()
            if not admitted.done():
                admitted.set_result(None)
                return
        self.active -= 1


def admitted(
    handle: Callable[..., Awaitable[T]], limit: int, slow_after: float = SLOW_AFTER
) -> Callable[..., Awaitable[T]]:
    """`handle` (MessageProcessor.handle_message) behind an Admission of its
    event loop's own."""
    admissions: dict[int, Admission] = {}

    async def handle_admitted(*args: Any, **kwargs: Any) -> T:
        loop_id = id(asyncio.get_running_loop())
        admission = admissions.get(loop_id)
        if admission is None:
            admission = admissions[loop_id] = Admission(limit, slow_after)
        async with admission.turn():
            return await handle(*args, **kwargs)

    return handle_admitted


def install(limit: int) -> None:
    if limit <= 0:
        return
    from rasa.core.processor import MessageProcessor

    MessageProcessor.handle_message = admitted(MessageProcessor.handle_message, limit)  # type: ignore[method-assign]
