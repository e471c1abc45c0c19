"""Waiting on conditions instead of sleeping a fixed time.

A fixed sleep either wastes time or, on a loaded machine, is too short and
lets a test assert before the system got there (or after it already went past
the moment the test meant to catch). These helpers poll a condition and say
clearly what did not happen in time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class NotReached(AssertionError):
    """The awaited condition did not hold before the deadline."""


def wait_until(condition: Callable[[], T], timeout: float = 30, interval: float = 0.1, message: str = "") -> T:
    """Poll condition() until it returns something truthy and return that value;
    raise NotReached (an AssertionError, so pytest shows it as a failed check)
    with message and the last value once timeout seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise NotReached(f"not reached within {timeout} s: {message or condition!r} (last value {value!r})")
        time.sleep(interval)


def wait_until_quiet(
    snapshot: Callable[[], object],
    idle: Callable[[object], bool] = lambda _: True,
    settle: float = 1.0,
    timeout: float = 60,
    interval: float = 0.1,
    message: str = "",
) -> object:
    """Wait until the system is quiet: idle(snapshot()) holds (nothing pending,
    no process working) and the snapshot has not changed for `settle` seconds.
    Returns the last snapshot. For "exactly once" checks: count after this,
    not after a guessed delay."""
    deadline = time.monotonic() + timeout
    last: object | None = None
    stable_since = time.monotonic()
    while True:
        current = snapshot()
        now = time.monotonic()
        if current != last or not idle(current):
            last, stable_since = current, now
        elif now - stable_since >= settle:
            return current
        if now >= deadline:
            raise NotReached(f"not quiet within {timeout} s: {message or snapshot!r} (last snapshot {current!r})")
        time.sleep(interval)
