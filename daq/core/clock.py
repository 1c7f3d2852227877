"""One clock for agent and simulators.

Waits and simulated physics run ``scale`` times faster than real time, so a two-hour
procedure can run in seconds against the simulators; recorded timestamps stay real
wall-clock time. A stepped clock moves process time only when someone waits, so simulated
physics comes out the same however busy the machine is.
"""

from __future__ import annotations

import asyncio
import os
import time


class Clock:
    """Real timestamps, scaled waits and scaled process time."""

    def __init__(self, scale: float = 1.0) -> None:
        if scale <= 0:
            raise ValueError(f"time scale must be positive, got {scale}")
        self.scale = scale
        self._origin = time.monotonic()

    def now(self) -> float:
        """Real wall-clock time (Unix seconds) for timestamps that go into records."""
        return time.time()

    def elapsed(self) -> float:
        """Process time in seconds since the clock started, in scaled (simulated) seconds."""
        return (time.monotonic() - self._origin) * self.scale

    def to_real(self, seconds: float) -> float:
        """How many real seconds a wait of ``seconds`` of process time takes."""
        return seconds / self.scale

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of process time."""
        await asyncio.sleep(max(0.0, seconds) / self.scale)


class SteppedClock(Clock):
    """Process time that advances by exactly what is waited for, never by real time.

    Meant for one waiter at a time (a test driving a simulator, a procedure step): each
    ``sleep`` moves the clock on by its own length, so concurrent waiters would add up.
    """

    def __init__(self) -> None:
        super().__init__()
        self._elapsed = 0.0

    def elapsed(self) -> float:
        return self._elapsed

    def to_real(self, seconds: float) -> float:
        return 0.0

    async def sleep(self, seconds: float) -> None:
        self._elapsed += max(0.0, seconds)
        await asyncio.sleep(0)


def default_clock() -> Clock:
    """The clock for this process; ``DAQ_TIME_SCALE`` speeds it up (tests, demos)."""
    return Clock(float(os.environ.get("DAQ_TIME_SCALE", "1")))
