"""Fluke/Hart 1529 readout × every fault, over VISA (TCPIP SOCKET, the readout's LAN port) and
over a pty (its RS-232 port).

``drop`` over the VISA socket is an InstrumentTimeout, not ConnectionLost: PyVISA-py's socket
session reads the peer's close (EOF) as "no data yet" and reports a timeout once its
timeout runs out; the pty is unplugged, which the stream transport sees as ConnectionLost.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from daq.core.errors import (
    ConnectionLost,
    InstrumentError,
    InstrumentReportedError,
    InstrumentTimeout,
    OverloadError,
    ProtocolError,
)
from daq.core.reading import Status
from drivers.base import Driver
from drivers.fluke_1529 import Fluke1529
from simulators.base import SimulatedInstrument
from simulators.faults import Fault
from tests.fault_matrix import FaultCase, check_fault, fault_params, wanders

NOISE = 0.0005
"""Standard deviation of one simulated measurement, °C."""


async def temperature(driver: Driver[Any, Any]) -> object:
    assert isinstance(driver, Fluke1529)
    return await driver.temperature()


async def over_range(driver: Driver[Any, Any], sim: SimulatedInstrument) -> None:
    """Every channel answers ``0.0,OL``: an error for a procedure, an OVERLOAD reading (NaN)
    for monitoring; the error queue stays empty (the reply is the indication)."""
    assert isinstance(driver, Fluke1529)
    with pytest.raises(OverloadError, match="channel 1 over range"):
        await driver.temperature()
    readings = await driver.read()
    assert [r.status for r in readings] == [Status.OVERLOAD, Status.OVERLOAD]
    assert all(math.isnan(r.value) and r.raw == "0.0,OL" for r in readings)
    assert await driver.errors() == []


async def device_error(driver: Driver[Any, Any], sim: SimulatedInstrument) -> None:
    """No reply, then the queued -300 read with SYST:ERR? after the timeout."""
    with pytest.raises(InstrumentReportedError, match="Device-specific error") as raised:
        await temperature(driver)
    assert raised.value.code == -300


def case(name: str, connection: dict[str, Any], dropped: type[InstrumentError]) -> FaultCase:
    return FaultCase(
        name=name,
        instrument={
            "id": "readout-1",
            "driver": "fluke_1529",
            "role": "thermometer",
            "connection": {**connection, "timeout": 0.3},
            "settings": {"channels": [1, 2]},
            "simulator": {"seed": 1, "noise": NOISE},
        },
        operation=temperature,
        expected={
            Fault.NO_REPLY: InstrumentTimeout,
            Fault.GARBLED: ProtocolError,
            Fault.DROP: dropped,
            Fault.NEVER_SETTLE: wanders(temperature, NOISE),
            Fault.OVERLOAD: over_range,
            Fault.ERROR_REPLY: device_error,
        },
    )


CASES = [
    case(
        "fluke_1529-visa-socket",
        {
            "type": "visa",
            "resource": "TCPIP::127.0.0.1::1::SOCKET",
            "read_termination": "\n",
            "write_termination": "\n",
        },
        ConnectionLost,  # on the event loop, as any TCP link: the close is seen at once
    ),
    case("fluke_1529-pty", {"type": "serial", "port": "readout-1"}, ConnectionLost),
]


@pytest.mark.parametrize(("case", "fault"), fault_params(CASES))
async def test_fault(case: FaultCase, fault: Fault, tmp_path: Path) -> None:
    await check_fault(case, fault, tmp_path)
