"""Metrology well (SCPI) × every fault, over TCP (a serial device server) and a pty."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from daq.core.errors import (
    ConnectionLost,
    InstrumentReportedError,
    InstrumentTimeout,
    OverloadError,
    ProtocolError,
)
from daq.core.reading import Status
from drivers.base import Driver
from drivers.fluke_heat_source import FlukeHeatSource
from simulators.base import SimulatedInstrument
from simulators.faults import Fault
from tests.fault_matrix import FaultCase, check_fault, fault_params


async def temperature(driver: Driver[Any, Any]) -> object:
    assert isinstance(driver, FlukeHeatSource)
    return await driver.temperature()


async def never_settles(driver: Driver[Any, Any], sim: SimulatedInstrument) -> None:
    """Held at the temperature it already has, the well still never passes its stability
    test; without the fault it passes at once."""
    assert isinstance(driver, FlukeHeatSource)
    await driver.set_point(23.0)  # ambient, where the block is
    for _ in range(5):
        assert not await driver.is_stable()
        await driver.clock.sleep(2.0)
    control, _ = await driver.read()
    assert control.status is Status.UNSTABLE
    sim.clear(Fault.NEVER_SETTLE)
    assert await driver.is_stable()


async def overloaded(driver: Driver[Any, Any], sim: SimulatedInstrument) -> None:
    """The over-range sensor is an overload; the heater has been cut out."""
    assert isinstance(driver, FlukeHeatSource)
    with pytest.raises(OverloadError, match="Control sensor over range"):
        await driver.temperature()
    control, _ = await driver.read()
    assert control.status is Status.OVERLOAD
    with pytest.raises(InstrumentReportedError, match="Settings conflict"):
        await driver.set_point(30.0)


def case(name: str, connection: dict[str, Any]) -> FaultCase:
    return FaultCase(
        name=name,
        instrument={
            "id": "well-1",
            "driver": "fluke_heat_source",
            "role": "temperature_source",
            "connection": {
                **connection,
                "read_termination": "\r",
                "write_termination": "\r",
                "timeout": 0.3,
            },
            "simulator": {"seed": 1},
        },
        operation=temperature,
        expected={
            Fault.NO_REPLY: InstrumentTimeout,
            Fault.GARBLED: ProtocolError,
            Fault.DROP: ConnectionLost,
            Fault.NEVER_SETTLE: never_settles,
            Fault.OVERLOAD: overloaded,
            Fault.ERROR_REPLY: InstrumentReportedError,
        },
    )


CASES = [
    case("fluke_heat_source-tcp", {"type": "tcp", "host": "127.0.0.1", "port": 1}),
    case("fluke_heat_source-pty", {"type": "serial", "port": "well-1"}),
]


@pytest.mark.parametrize(("case", "fault"), fault_params(CASES))
async def test_fault(case: FaultCase, fault: Fault, tmp_path: Path) -> None:
    await check_fault(case, fault, tmp_path)
