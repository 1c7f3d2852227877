"""Exchange deadlines: a late exchange ends in TimeoutError, any other cancellation stays one,
and the watch sleeps once nothing is in flight."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import weakref
from collections.abc import Callable

import pytest
import uvloop

from drivers.transports import deadline
from drivers.transports.deadline import watch

LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}


@pytest.mark.parametrize("loop", LOOPS)
def test_an_exchange_past_its_deadline_ends_in_timeout_and_not_before(loop: str) -> None:
    async def late() -> None:
        running = asyncio.get_running_loop()
        started = running.time()
        with pytest.raises(TimeoutError), watch().deadline(0.1) as deadline:
            await running.create_future()  # a reply that never comes
        # held against the deadline itself, by addition: the time taken, a difference of
        # two loop times, can come out a hair under 0.1 in floating point
        assert deadline.at >= started + 0.1
        assert running.time() >= deadline.at

    with asyncio.Runner(loop_factory=LOOPS[loop]) as runner:
        runner.run(late())


async def test_an_exchange_in_time_is_left_alone_and_the_watch_goes_to_sleep() -> None:
    with watch().deadline(5.0):
        await asyncio.sleep(0)
    assert not watch().pending
    watching = watch()._watching
    assert watching is not None
    await watching  # ends by itself: nothing is in flight
    assert watch()._watching is None
    with watch().deadline(5.0):  # and wakes for the next exchange
        assert watch()._watching is not None


async def test_a_cancellation_from_elsewhere_stays_a_cancellation() -> None:
    inside = asyncio.Event()

    async def exchange() -> None:
        with watch().deadline(5.0):
            inside.set()
            await asyncio.get_running_loop().create_future()

    task = asyncio.create_task(exchange())
    await inside.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not watch().pending


@pytest.mark.parametrize("also_cancelled", [False, True])
async def test_expiry_is_a_timeout_unless_the_task_was_also_cancelled(
    also_cancelled: bool,
) -> None:
    held: list[deadline.Deadline] = []

    async def exchange() -> None:
        with watch().deadline(5.0) as d:
            held.append(d)
            await asyncio.get_running_loop().create_future()

    task = asyncio.create_task(exchange())
    while not held:
        await asyncio.sleep(0)
    held[0].expire()  # as the watch does when the deadline passes
    if also_cancelled:
        task.cancel()
    with pytest.raises(asyncio.CancelledError if also_cancelled else TimeoutError):
        await task
    assert task.cancelling() == (1 if also_cancelled else 0)


def test_a_watch_does_not_keep_its_loop_alive() -> None:
    async def use() -> None:
        with watch().deadline(5.0):
            await asyncio.sleep(0)

    with asyncio.Runner() as runner:
        runner.run(use())
        loop = weakref.ref(runner.get_loop())
        assert loop() in deadline._watches
    gc.collect()
    assert loop() is None


async def test_a_cancelled_watch_is_started_again_by_the_next_exchange() -> None:
    """Something cancelling every task (a shutdown that did not finish) must not leave the
    exchanges in flight without their timeout: the next exchange restarts the watch."""
    held = watch()

    async def late() -> None:
        with held.deadline(0.1):
            await asyncio.get_running_loop().create_future()

    waiting = asyncio.create_task(late())
    while held._watching is None:
        await asyncio.sleep(0)
    stopped = held._watching
    stopped.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await stopped
    with held.deadline(5.0):
        assert held._watching is not None and held._watching is not stopped
    with pytest.raises(TimeoutError):
        await waiting
