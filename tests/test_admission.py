"""kefu/runtime/admission.py: a few messages at a time, in arrival order; a
slow one stops counting; nothing waits forever, whatever is cancelled."""

from __future__ import annotations

import asyncio

import pytest

from kefu.core.settings import load_rasa_concurrency
from kefu.runtime.admission import Admission, admitted


def test_at_most_the_limit_runs_at_once_and_the_rest_start_in_arrival_order():
    started: list[int] = []
    running = 0
    most = 0

    async def handle(number: int) -> int:
        nonlocal running, most
        started.append(number)
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.01)
        running -= 1
        return number

    async def scenario():
        handle_admitted = admitted(handle, limit=3)
        return await asyncio.gather(*(handle_admitted(n) for n in range(20)))

    assert asyncio.run(scenario()) == list(range(20))
    assert most == 3
    assert started == list(range(20))


def test_a_message_busy_for_longer_than_slow_after_stops_holding_the_others_up():
    async def scenario():
        admission = Admission(limit=1, slow_after=0.05)
        order: list[str] = []

        async def slow():
            async with admission.turn():
                order.append("slow starts")
                await asyncio.sleep(1.0)  # an action waiting on a platform API
                order.append("slow ends")

        async def quick():
            await asyncio.sleep(0.01)
            async with admission.turn():
                order.append("quick runs")

        await asyncio.gather(slow(), quick())
        return order, admission.active

    order, active = asyncio.run(scenario())
    assert order == ["slow starts", "quick runs", "slow ends"]
    assert active == 0


def test_cancelled_waiters_and_holders_give_their_places_back():
    async def scenario():
        admission = Admission(limit=1, slow_after=10)
        release = asyncio.Event()

        async def hold():
            async with admission.turn():
                await release.wait()

        async def wait_in_line():
            async with admission.turn():
                return "admitted"

        holder = asyncio.create_task(hold())
        await asyncio.sleep(0)
        waiters = [asyncio.create_task(wait_in_line()) for _ in range(3)]
        await asyncio.sleep(0.01)
        waiters[0].cancel()  # a customer's request that gave up while waiting
        holder.cancel()  # and one that was cancelled while admitted
        results = await asyncio.gather(*waiters, return_exceptions=True)
        return results, admission.active

    results, active = asyncio.run(scenario())
    assert isinstance(results[0], asyncio.CancelledError)
    assert results[1:] == ["admitted", "admitted"]
    assert active == 0


def test_the_limit_comes_from_kefu_rasa_concurrency():
    assert load_rasa_concurrency({}) == 8
    assert load_rasa_concurrency({"KEFU_RASA_CONCURRENCY": "0"}) == 0
    with pytest.raises(SystemExit, match="whole number"):
        load_rasa_concurrency({"KEFU_RASA_CONCURRENCY": "八"})
    with pytest.raises(SystemExit, match="0 \\(no limit\\)"):
        load_rasa_concurrency({"KEFU_RASA_CONCURRENCY": "-1"})
