"""Poll every instrument on its own interval into the journal.

Each instrument runs in its own task on a fixed schedule (no drift from slow replies). The
instruments are spread over phase slots (``phase``): with 1,000 of them at 1 Hz, 25 come
due every 25 ms instead of all at once. A failing instrument is retried with
exponential backoff and its outage is recorded as events; it never stops the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from daq.config import InstrumentConfig
from daq.core.clock import Clock
from daq.core.errors import InstrumentError
from daq.core.reading import Reading, Status
from daq.journal import EventKind, Journal, Severity
from drivers.base import Driver

log = logging.getLogger("daq.monitor")

MAX_BACKOFF = 60.0
"""Longest wait (process seconds) between attempts to reach a failing instrument."""


PER_SLOT = 25
"""Instruments a phase slot holds at most when the lab leaves the number of slots to the
monitor: 25 polls of about 150 µs each are under 4 ms of one core (docs/PERFORMANCE.md)."""
MIN_SLOTS = 10

FLAGGED = frozenset({Status.ERROR, Status.OVERLOAD, Status.UNDERLOAD})
"""Reading statuses recorded as an event when an instrument's reading turns to them."""


def slots_for(instruments: int) -> int:
    """The number of phase slots when the lab file gives none."""
    return max(MIN_SLOTS, -(-instruments // PER_SLOT))


def phase(index: int, slots: int, interval: float) -> float:
    """How far into each interval the ``index``-th instrument is polled: the instruments
    take the slots in turn, each slot ``interval / slots`` after the last. (Every instrument
    is read once at the start, so that none waits for its slot to give its first reading.)"""
    return (index % slots) * interval / slots


class Health(StrEnum):
    STARTING = "starting"
    OK = "ok"
    FAILING = "failing"


@dataclass
class InstrumentState:
    """What the live table shows about one instrument."""

    id: str
    health: Health = Health.STARTING
    last: list[Reading] = field(default_factory=list)
    readings: int = 0
    failures: int = 0
    last_error: str = ""
    outage_since: float | None = None
    lateness: list[float] = field(default_factory=list)
    """Seconds each poll started after its scheduled time (for jitter figures)."""
    phase: float = 0.0
    """Seconds into each interval at which it is polled (its phase slot)."""


class Monitor:
    def __init__(
        self,
        instruments: list[tuple[InstrumentConfig, Driver[Any, Any]]],
        journal: Journal,
        clock: Clock,
        *,
        keep_lateness: bool = False,
        on_readings: Callable[[list[Reading]], None] | None = None,
        phase_slots: int | None = 1,
    ) -> None:
        self._instruments = [(c, d) for c, d in instruments if d.link != "operator"]
        """Instruments read by hand are left out: a monitor never asks a person to read."""
        self.journal = journal
        self.clock = clock
        self._keep_lateness = keep_lateness
        self.states = {config.id: InstrumentState(config.id) for config, _ in self._instruments}
        self._stopping = False
        self._on_readings = on_readings
        slots = phase_slots or slots_for(len(self._instruments))
        for index, (config, _) in enumerate(self._instruments):
            interval = clock.to_real(config.poll_interval)
            self.states[config.id].phase = phase(index, slots, interval)
        self.paused: set[str] = set()
        """Instruments not polled for now (a calibration run is using them)."""
        self._reading = {config.id: asyncio.Lock() for config, _ in self._instruments}
        """Held while an instrument is being read, so that it is let go of between reads."""

    async def lend(self, instruments: set[str]) -> None:
        """Stop polling ``instruments`` and close the monitor's links to them once any read
        in progress is over: a run opens its own, and a serial port open twice would hand
        a reply to whichever of the two reads it first. The links open again on the next
        poll after ``paused`` lets them go."""
        self.paused |= instruments
        for config, driver in self._instruments:
            if config.id in instruments:
                async with self._reading[config.id]:
                    with contextlib.suppress(Exception):
                        await driver.close()

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set, then close every driver."""
        start = asyncio.get_running_loop().time()
        tasks = [
            asyncio.create_task(self._poll(config, driver, start), name=f"poll-{config.id}")
            for config, driver in self._instruments
        ]
        try:
            await stop.wait()
        finally:
            self._stopping = True
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for _, driver in self._instruments:
                with contextlib.suppress(Exception):
                    await driver.close()

    async def _poll(self, config: InstrumentConfig, driver: Driver[Any, Any], start: float) -> None:
        loop = asyncio.get_running_loop()
        state = self.states[config.id]
        interval = self.clock.to_real(config.poll_interval)
        due = start  # the first reading at once; then on the instrument's phase slot
        offset = state.phase
        # Not only cancellation: on Python 3.11 a library's asyncio.wait_for (pymodbus uses
        # it) can swallow a cancel that arrives with the reply, and the loop would go on.
        while not self._stopping:
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if self._keep_lateness:
                state.lateness.append(loop.time() - due)
            async with self._reading[config.id]:
                if config.id in self.paused:  # lent to a run (also while this waited)
                    due = loop.time() + interval
                    continue
                try:
                    readings = await driver.read()
                except InstrumentError as exc:
                    self._failed(state, exc)
                except Exception as exc:  # a driver bug must not stop the other instruments
                    log.exception("unexpected error reading %s", config.id)
                    self._failed(state, exc)
                else:
                    self._succeeded(state, readings)
            if state.health is Health.FAILING:
                backoff = min(MAX_BACKOFF, config.poll_interval * 2 ** min(state.failures, 16))
                due = loop.time() + self.clock.to_real(backoff)
            else:
                due += interval + offset
                offset = 0.0
                if due < loop.time():  # fell behind (slow replies): skip, don't burst
                    due = loop.time()

    def _failed(self, state: InstrumentState, exc: Exception) -> None:
        message = (
            f"{type(exc).__name__}: {exc}" if not isinstance(exc, InstrumentError) else str(exc)
        )
        state.failures += 1
        if state.health is not Health.FAILING:
            state.outage_since = self.clock.now()
            self.journal.event(EventKind.INSTRUMENT_FAILED, message, Severity.ERROR, state.id)
        elif message != state.last_error:
            self.journal.event(EventKind.INSTRUMENT_ERROR, message, Severity.WARNING, state.id)
        state.health = Health.FAILING
        state.last_error = message

    @staticmethod
    def _was(state: InstrumentState, quantity: str) -> Status:
        """The status of the instrument's last reading of ``quantity``."""
        return next((r.status for r in reversed(state.last) if r.quantity == quantity), Status.OK)

    def _succeeded(self, state: InstrumentState, readings: list[Reading]) -> None:
        if state.health is Health.FAILING and state.outage_since is not None:
            outage = self.clock.now() - state.outage_since
            self.journal.event(
                EventKind.INSTRUMENT_RECOVERED,
                f"{state.id} answering again after {outage:.1f} s out "
                f"({state.failures} failed attempts)",
                Severity.INFO,
                state.id,
            )
        for reading in readings:
            if reading.status in FLAGGED and self._was(state, reading.quantity) != reading.status:
                self.journal.event(
                    EventKind(f"reading_{reading.status.value}"),
                    f"{state.id} {reading.quantity}: {reading.status.value} ({reading.raw})",
                    Severity.WARNING,
                    state.id,
                )
        state.health = Health.OK
        state.failures = 0
        state.outage_since = None
        state.last = readings
        state.readings += len(readings)
        self.journal.record_many(readings)
        if self._on_readings is not None:
            self._on_readings(readings)
