"""Stability detection: when is a set point reached well enough to take readings?

One component for every quantity. A moving window of recent readings is stable when its
least-squares slope and its standard deviation are both within their limits (and, if asked,
the instrument's own stable flag is set). The whole trace is kept as evidence for the point.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, model_validator

from daq.core.clock import Clock
from daq.core.reading import Reading, Status


class StabilityCriteria(BaseModel):
    """What "stable" means for one kind of point (written in calibration plans)."""

    model_config = ConfigDict(extra="forbid")

    window: float = Field(60.0, gt=0)
    """Seconds of readings judged together."""
    min_readings: int = Field(5, ge=2)
    """Fewest readings in the window before any verdict."""
    slope_limit: float | None = Field(None, gt=0)
    """Largest drift allowed, in the reading's unit per minute."""
    std_limit: float | None = Field(None, gt=0)
    """Largest standard deviation allowed in the window, in the reading's unit."""
    use_instrument_flag: bool = False
    """Also require the instrument's own stable flag on the window's readings."""
    interval: float = Field(1.0, gt=0)
    """Seconds between readings while waiting."""
    timeout: float = Field(1800.0, gt=0)
    """Seconds to wait before giving up on the point."""

    @model_validator(mode="after")
    def _some_limit(self) -> StabilityCriteria:
        if self.slope_limit is None and self.std_limit is None and not self.use_instrument_flag:
            raise ValueError("give a slope_limit, a std_limit or use_instrument_flag")
        return self


@dataclass(frozen=True)
class Sample:
    elapsed: float
    """Seconds since waiting began."""
    value: float
    instrument_stable: bool


@dataclass(frozen=True)
class Verdict:
    stable: bool
    readings: int
    slope: float | None
    """Unit per minute."""
    std: float | None
    reason: str
    """Why not stable (empty when stable)."""


@dataclass
class StabilityTrace:
    """Every reading seen while waiting, and the last verdict: the evidence for a point."""

    criteria: StabilityCriteria
    samples: list[Sample] = field(default_factory=list)
    verdict: Verdict | None = None

    def add(self, elapsed: float, value: float, instrument_stable: bool = True) -> Verdict:
        self.samples.append(Sample(elapsed, value, instrument_stable))
        self.verdict = judge(self.window(), self.criteria)
        return self.verdict

    def window(self) -> list[Sample]:
        if not self.samples:
            return []
        start = self.samples[-1].elapsed - self.criteria.window
        return [s for s in self.samples if s.elapsed >= start]

    def as_dict(self) -> dict[str, object]:
        verdict = self.verdict
        return {
            "criteria": self.criteria.model_dump(),
            "samples": [[s.elapsed, s.value, s.instrument_stable] for s in self.samples],
            "stable": verdict.stable if verdict else False,
            "slope_per_min": verdict.slope if verdict else None,
            "std": verdict.std if verdict else None,
            "reason": verdict.reason if verdict else "no readings",
        }


def judge(window: list[Sample], criteria: StabilityCriteria) -> Verdict:
    """The verdict on one window of samples."""
    n = len(window)
    values = [s.value for s in window]
    if n < criteria.min_readings or any(not math.isfinite(v) for v in values):
        reason = f"{n} of {criteria.min_readings} readings" if n < criteria.min_readings else ""
        return Verdict(False, n, None, None, reason or "a reading is not a number")
    times = [s.elapsed / 60.0 for s in window]
    slope = statistics.linear_regression(times, values).slope if len(set(times)) > 1 else 0.0
    std = statistics.stdev(values)
    reasons = []
    if criteria.slope_limit is not None and abs(slope) > criteria.slope_limit:
        reasons.append(f"drifting {slope:+.3g}/min (limit {criteria.slope_limit:g})")
    if criteria.std_limit is not None and std > criteria.std_limit:
        reasons.append(f"scatter {std:.3g} (limit {criteria.std_limit:g})")
    if criteria.use_instrument_flag and not all(s.instrument_stable for s in window):
        reasons.append("the instrument reports unstable")
    return Verdict(not reasons, n, slope, std, "; ".join(reasons))


class NotStable(Exception):
    """The timeout passed before the readings became stable; carries the trace."""

    def __init__(self, message: str, trace: StabilityTrace) -> None:
        super().__init__(message)
        self.trace = trace


async def wait_until_stable(
    read: Callable[[], Awaitable[Reading]],
    criteria: StabilityCriteria,
    clock: Clock,
    on_sample: Callable[[Reading, Verdict], None] | None = None,
) -> StabilityTrace:
    """Read every ``interval`` until the window is stable; raise ``NotStable`` at timeout.

    Timing is process time (``clock.elapsed``), so a scaled clock shortens simulated waits.
    """
    trace = StabilityTrace(criteria)
    start = clock.elapsed()
    while True:
        reading = await read()
        elapsed = clock.elapsed() - start
        verdict = trace.add(elapsed, reading.value, reading.status is Status.OK)
        if on_sample is not None:
            on_sample(reading, verdict)
        if verdict.stable:
            return trace
        if elapsed >= criteria.timeout:
            raise NotStable(
                f"{reading.instrument} {reading.quantity} not stable after "
                f"{criteria.timeout:g} s: {verdict.reason}",
                trace,
            )
        await clock.sleep(criteria.interval)
