"""The shared clock: scaled waits and process time, real timestamps."""

from __future__ import annotations

import asyncio
import time

import pytest

from daq.core.clock import Clock, SteppedClock, default_clock


async def test_scaled_sleep_is_shorter_in_real_time_but_timestamps_stay_real() -> None:
    clock = Clock(scale=100)
    real_start, process_start = time.monotonic(), clock.elapsed()
    await clock.sleep(5.0)  # five process seconds
    real = time.monotonic() - real_start
    assert real < 1.0
    assert clock.elapsed() - process_start >= 5.0
    assert abs(clock.now() - time.time()) < 1.0


async def test_to_real_divides_by_scale() -> None:
    assert Clock(scale=4).to_real(2.0) == 0.5
    await asyncio.sleep(0)


def test_scale_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Clock(scale=0)


def test_default_clock_reads_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAQ_TIME_SCALE", "25")
    assert default_clock().scale == 25


async def test_a_stepped_clock_moves_by_exactly_what_is_waited_for() -> None:
    clock = SteppedClock()
    started = time.monotonic()
    await clock.sleep(3600.0)
    await clock.sleep(-5.0)  # a negative wait is no wait
    assert clock.elapsed() == 3600.0
    assert clock.to_real(3600.0) == 0.0
    assert time.monotonic() - started < 60.0  # an hour of process time costs no real hour
    assert abs(clock.now() - time.time()) < 60.0  # timestamps stay real
