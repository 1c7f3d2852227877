"""One clock for agent and simulators.

Waits and simulated physics run ``scale`` times faster than real time, so a two-hour
procedure can run in seconds against the simulators; recorded timestamps stay real
wall-clock time.
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


def default_clock() -> Clock:
    """The clock for this process; ``DAQ_TIME_SCALE`` speeds it up (tests, demos)."""
    return Clock(float(os.environ.get("DAQ_TIME_SCALE", "1")))
