"""Mensor CPC driver against its simulator: control, stable flag, vent; every fault."""

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
from drivers.mensor_cpc import MensorCpc
from drivers.transports.settings import TcpConnection, open_line_transport
from simulators.base import SimulatedInstrument
from simulators.faults import Fault
from simulators.mensor_cpc import MensorCpcSettings, MensorCpcSimulator
from simulators.servers import TcpLineServer
from tests.fault_matrix import FaultCase, check_fault, fault_params


async def test_control_to_a_set_point_then_vent() -> None:
    clock = SteppedClock()
    sim = MensorCpcSimulator(MensorCpcSettings(seed=1, error=-0.003), clock)
    server = await TcpLineServer(sim).start()
    connection = TcpConnection(type="tcp", host="127.0.0.1", port=server.port, timeout=1)
    settings = MensorCpc.Settings(unit="kPa", poll_interval=0.05, vent_timeout=10)
    cpc = MensorCpc("cpc", open_line_transport("cpc", connection), settings, clock)
    try:
        await cpc.set_point(500)  # kPa
        while not await cpc.is_stable():
            await clock.sleep(0.5)
        reading = await cpc.pressure()
        assert reading.status is Status.OK and reading.unit == "kPa"
        assert abs(reading.value - 499.7) < 0.05  # generated 500 kPa, indicated -0.3 kPa
        with pytest.raises(InstrumentReportedError, match="-222"):
            await cpc.set_point(5000)
        await cpc.vent()
        assert abs(sim.generated() - 1.01325) < 1e-3
    finally:
        await cpc.close()
        await server.stop()


async def test_channel_pressure_type_and_limits_answer_every_query() -> None:
    """Reference §3.2: ``Chan A|B`` / ``Chan?``, ``Ptype A|G``; every query gets a reply."""
    sim = MensorCpcSimulator(MensorCpcSettings(seed=1, noise=0.0, channels=2), SteppedClock())
    exchanges = [
        (b"Chan?", b" A\r\n"),
        (b"Chan B", b""),
        (b"Chan?", b" B\r\n"),
        (b"Ptype?", b" A\r\n"),
        (b"A?", b" +1.01325E+00\r\n"),
        (b"Ptype G", b""),
        (b"Ptype?", b" G\r\n"),
        (b"A?", b" +0.00000E+00\r\n"),  # gauge: relative to ambient
        (b"Setpt 2", b""),  # 2 bar gauge
        (b"Setpt?", b" +2.00000E+00\r\n"),
        (b"Ptype A", b""),
        (b"Setpt?", b" +3.01325E+00\r\n"),  # the same set-point, absolute
        (b"UpperLimit?", b" +1.00000E+01\r\n"),
        (b"UpperLimit 6", b""),
        (b"LowerLimit?", b" +0.00000E+00\r\n"),
        (b"UpperLimit?", b" +6.00000E+00\r\n"),
        (b"Setpt 7", b""),  # above the upper limit: refused
        (b"Error?", b" -222,Data out of range\r\n"),
        (b"Chan C", b""),
        (b"Error?", b" -222,Data out of range\r\n"),
        (b"Nonsense?", b"E\r\n"),  # an unknown query still answers, flagging the error
        (b"Error?", b" -113,Undefined header\r\n"),
    ]
    assert [await sim.handle(sent) for sent, _ in exchanges] == [got for _, got in exchanges]
    one = MensorCpcSimulator(MensorCpcSettings(seed=1), SteppedClock())
    assert await one.handle(b"Chan B") == b"" and await one.handle(b"Chan?") == b"EA\r\n"


async def pressure(driver: Driver[Any, Any]) -> object:
    assert isinstance(driver, MensorCpc)
    return await driver.pressure()


async def never_stable(driver: Driver[Any, Any], sim: SimulatedInstrument) -> None:
    assert isinstance(driver, MensorCpc)
    await driver.set_point(2.0)
    for _ in range(10):
        assert not await driver.is_stable()
        await driver.clock.sleep(1.0)


async def over_pressure(driver: Driver[Any, Any], sim: SimulatedInstrument) -> None:
    assert isinstance(driver, MensorCpc)
    with pytest.raises(OverloadError):
        await driver.set_point(2.0)
    assert not await driver.is_stable()  # tripped to standby; the error was read and cleared


def case(name: str, connection: dict[str, Any]) -> FaultCase:
    return FaultCase(
        name=name,
        instrument={
            "id": "cpc-1",
            "driver": "mensor_cpc",
            "role": "pressure_controller",
            "connection": {**connection, "timeout": 0.3},
            "simulator": {"seed": 1},
        },
        operation=pressure,
        expected={
            Fault.NO_REPLY: InstrumentTimeout,
            Fault.GARBLED: ProtocolError,
            Fault.DROP: ConnectionLost,
            Fault.NEVER_SETTLE: never_stable,
            Fault.OVERLOAD: over_pressure,
            Fault.ERROR_REPLY: InstrumentReportedError,
        },
    )


CASES = [
    case("mensor_cpc-tcp", {"type": "tcp", "host": "127.0.0.1", "port": 1}),
    case("mensor_cpc-pty", {"type": "serial", "port": "cpc-1"}),
]


@pytest.mark.parametrize(("case", "fault"), fault_params(CASES))
async def test_fault(case: FaultCase, fault: Fault, tmp_path: Path) -> None:
    await check_fault(case, fault, tmp_path)
