"""An asyncio event loop on a background thread, for in-process servers that
synchronous tests talk to over loopback HTTP."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")


@contextmanager
def background_loop() -> Iterator[tuple[asyncio.AbstractEventLoop, Callable[[Awaitable[Any]], Any]]]:
    """(loop, run): run(coro) runs a coroutine on the loop and returns its
    result (60 s at most). The loop stops and closes when the block ends."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    thread = threading.Thread(
        target=lambda: (asyncio.set_event_loop(loop), ready.set(), loop.run_forever()), daemon=True
    )
    thread.start()
    ready.wait(10)

    def run(coro: Awaitable[T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(60)  # type: ignore[arg-type]

    try:
        yield loop, run
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
