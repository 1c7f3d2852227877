"""Druck PACE driver against its simulator: control, in limits, vent; every fault."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from daq.core.clock import SteppedClock
from daq.core.errors import (
    ConnectionLost,
    InstrumentReportedError,
    InstrumentTimeout,
    OverloadError,
    ProtocolError,
)
from daq.core.reading import Status
from drivers.base import Driver
from drivers.druck_pace import DruckPace
from drivers.transports.settings import TcpConnection, open_line_transport
from simulators.base import SimulatedInstrument
from simulators.druck_pace import DruckPaceSettings, DruckPaceSimulator
from simulators.faults import Fault
from simulators.servers import TcpLineServer
from tests.fault_matrix import FaultCase, check_fault, fault_params


async def test_control_to_a_set_point_then_vent() -> None:
    clock = SteppedClock()
    sim = DruckPaceSimulator(DruckPaceSettings(seed=1, error=0.002), clock)
    server = await TcpLineServer(sim).start()
    connection = TcpConnection(type="tcp", host="127.0.0.1", port=server.port, timeout=1)
    settings = DruckPace.Settings(unit="mbar", poll_interval=0.02, vent_timeout=10)
    pace = DruckPace("pace", open_line_transport("pace", connection), settings, clock)
    try:
        await pace.set_point(5000)  # mbar: 5 bar, 4 s of slewing at 1 bar/s
        assert not await pace.is_stable()
        while not await pace.is_stable():
            await clock.sleep(0.5)
        reading = await pace.pressure()
        assert reading.status is Status.OK and reading.unit == "mbar"
        assert abs(reading.value - 5002.0) < 0.5  # generated 5000 mbar, indicated +2 mbar
        with pytest.raises(InstrumentReportedError, match="-222"):
            await pace.set_point(20000)  # above the 10 bar range
        await pace.vent()
        assert abs(sim.generated() - 1.01325) < 1e-9
        assert not await pace.is_stable()  # control is off once vented
    finally:
        await pace.close()
        await server.stop()


async def pressure(driver: Driver[Any, Any]) -> object:
    assert isinstance(driver, DruckPace)
    return await driver.pressure()


async def never_in_limits(driver: Driver[Any, Any], sim: SimulatedInstrument) -> None:
    assert isinstance(driver, DruckPace)
    await driver.set_point(2.0)
    for _ in range(10):
        assert not await driver.is_stable()
        await driver.clock.sleep(1.0)


def case(name: str, connection: dict[str, Any]) -> FaultCase:
    return FaultCase(
        name=name,
        instrument={
            "id": "pace-1",
            "driver": "druck_pace",
            "role": "pressure_controller",
            "connection": {**connection, "timeout": 0.3},
            "simulator": {"seed": 1},
        },
        operation=pressure,
        expected={
            Fault.NO_REPLY: InstrumentTimeout,
            Fault.GARBLED: ProtocolError,
            Fault.DROP: ConnectionLost,
            Fault.NEVER_SETTLE: never_in_limits,
            Fault.OVERLOAD: OverloadError,
            Fault.ERROR_REPLY: InstrumentReportedError,
        },
    )


CASES = [
    case("druck_pace-tcp", {"type": "tcp", "host": "127.0.0.1", "port": 1}),
    case("druck_pace-pty", {"type": "serial", "port": "pace-1"}),
]


@pytest.mark.parametrize(("case", "fault"), fault_params(CASES))
async def test_fault(case: FaultCase, fault: Fault, tmp_path: Path) -> None:
    await check_fault(case, fault, tmp_path)
