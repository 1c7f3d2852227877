"""Hart classic controller × every fault, over TCP (a serial device server) and a pty."""

from __future__ import annotations

import itertools
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
from drivers.hart_classic import HartClassicSource
from simulators.base import SimulatedInstrument
from simulators.faults import Fault
from tests.fault_matrix import FaultCase, Operation, check_fault, fault_params


def set_and_read() -> Operation:
    """A new set point each time (a refused one then shows in the read-back), then a reading."""
    set_points = itertools.cycle([50.0, 50.5])

    async def operation(driver: Driver[Any, Any]) -> object:
        assert isinstance(driver, HartClassicSource)
        await driver.set_point(next(set_points))
        return await driver.temperature()

    return operation


async def never_settles(driver: Driver[Any, Any], sim: SimulatedInstrument) -> None:
    """Held where it is, the block wanders: no window of readings is ever stable; without
    the fault a window soon is."""
    assert isinstance(driver, HartClassicSource)
    await driver.set_point(50.0)
    for _ in range(8):
        assert not await driver.is_stable()
        await driver.clock.sleep(1.0)
    control, _ = await driver.read()
    assert control.status is Status.UNSTABLE
    sim.clear(Fault.NEVER_SETTLE)
    for _ in range(30):
        if await driver.is_stable():
            return
        await driver.clock.sleep(1.0)
    raise AssertionError("never stable, even without the fault")


async def cut_out(driver: Driver[Any, Any], sim: SimulatedInstrument) -> None:
    """The open cut-out is an overload; monitoring keeps the temperature, marked overload."""
    assert isinstance(driver, HartClassicSource)
    with pytest.raises(OverloadError, match="cu: 660 C, out"):
        await driver.temperature()
    control, _ = await driver.read()
    assert control.status is Status.OVERLOAD and control.value > 40.0


def case(name: str, connection: dict[str, Any]) -> FaultCase:
    return FaultCase(
        name=name,
        instrument={
            "id": "bath-1",
            "driver": "hart_classic",
            "role": "temperature_source",
            "connection": {
                **connection,
                "read_termination": "\r",
                "write_termination": "\r",
                "timeout": 0.3,
            },
            "settings": {"stability_window": 5.0, "stability_readings": 3},
            "simulator": {"seed": 1, "temperature": 50.0, "time_constant": 2.0},
        },
        operation=set_and_read(),
        expected={
            Fault.NO_REPLY: InstrumentTimeout,
            Fault.GARBLED: ProtocolError,
            Fault.DROP: ConnectionLost,
            Fault.NEVER_SETTLE: never_settles,
            Fault.OVERLOAD: cut_out,
            Fault.ERROR_REPLY: InstrumentReportedError,
        },
    )


CASES = [
    case("hart_classic-tcp", {"type": "tcp", "host": "127.0.0.1", "port": 1}),
    case("hart_classic-pty", {"type": "serial", "port": "bath-1", "baudrate": 2400}),
]


@pytest.mark.parametrize(("case", "fault"), fault_params(CASES))
async def test_fault(case: FaultCase, fault: Fault, tmp_path: Path) -> None:
    await check_fault(case, fault, tmp_path)
