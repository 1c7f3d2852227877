"""The fault matrix: every simulated family meets every fault over its real link.

Each family's test module describes a ``FaultCase``: the instrument (as in a lab file), the
role call to exercise, and what each fault must turn into. ``check_fault`` then runs the
simulator in-process, shows the call working, injects the fault, checks the outcome, clears
the fault and shows the same driver working again (the agent's recovery, without restart).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from daq.config import parse_lab
from daq.core.clock import Clock, SteppedClock
from daq.core.errors import InstrumentError
from daq.core.reading import Reading
from daq.session import lab_session
from drivers.base import Driver
from simulators.base import SimulatedInstrument
from simulators.faults import Fault

Operation = Callable[[Driver[Any, Any]], Awaitable[object]]
Check = Callable[[Driver[Any, Any], SimulatedInstrument], Awaitable[None]]
"""A custom check of a fault's effect, for outcomes that are not one exception."""


@dataclass(frozen=True)
class FaultCase:
    name: str
    instrument: dict[str, Any]
    """The instrument entry of a lab file, ``simulate: true`` implied; addresses are replaced."""
    operation: Operation
    expected: dict[Fault, type[InstrumentError] | Check]


def one_instrument_lab(instrument: dict[str, Any], tmp: Path) -> str:
    entry = {"simulate": True, "poll_interval": 0.1, **instrument}
    return yaml.safe_dump(
        {
            "lab": {"id": "fault-lab"},
            "journal": {"path": str(tmp / "daq.sqlite"), "batch_interval": 0.05},
            "benches": [{"id": "bench-1", "instruments": [entry]}],
        },
        sort_keys=False,
    )


async def eventually(
    operation: Operation, driver: Driver[Any, Any], timeout: float = 15.0
) -> object:
    """The operation's result once it succeeds again (links reopen after their backoff)."""
    clock = Clock()
    deadline = clock.elapsed() + timeout
    while True:
        try:
            return await operation(driver)
        except InstrumentError:
            if clock.elapsed() > deadline:
                raise
            await clock.sleep(0.2)


async def check_fault(case: FaultCase, fault: Fault, tmp: Path) -> None:
    lab = parse_lab(one_instrument_lab(case.instrument, tmp), f"{case.name}.yaml")
    ident = case.instrument["id"]
    async with lab_session(lab, SteppedClock(), simulate=True) as session:
        assert session.simulation is not None
        [(_, driver)] = session.drivers()
        sim = session.simulation.simulator(ident)
        try:
            await eventually(case.operation, driver)
            session.simulation.inject(ident, fault)
            expectation = case.expected[fault]
            if isinstance(expectation, type):
                with pytest.raises(expectation):
                    await case.operation(driver)
            else:
                await expectation(driver, sim)
            session.simulation.clear(ident)
            await eventually(case.operation, driver)
        finally:
            await driver.close()


def fault_params(cases: list[FaultCase]) -> list[Any]:
    """pytest parameters ``(case, fault)`` for every fault of every case, with readable ids."""
    return [
        pytest.param(case, fault, id=f"{case.name}-{fault.value}")
        for case in cases
        for fault in Fault
    ]


async def spread(operation: Operation, driver: Driver[Any, Any], samples: int = 12) -> float:
    """Range of ``samples`` readings one process second apart (more than a wander period)."""
    values = []
    for _ in range(samples):
        reading = await operation(driver)
        assert isinstance(reading, Reading)
        values.append(reading.value)
        await driver.clock.sleep(1.0)
    return max(values) - min(values)


def wanders(operation: Operation, noise: float) -> Check:
    """The check of ``never_settle`` for instruments without a stable flag: successive readings
    wander far beyond the noise, and keep within a few standard deviations once cleared."""

    async def check(driver: Driver[Any, Any], sim: SimulatedInstrument) -> None:
        assert await spread(operation, driver) > 20 * noise
        sim.clear(Fault.NEVER_SETTLE)
        assert await spread(operation, driver) < 10 * noise

    return check
