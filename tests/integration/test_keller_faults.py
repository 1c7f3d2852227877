"""KELLER Series 30 × every fault, over Modbus TCP and Modbus RTU (reference §3.4.1).

The link faults go through the real pymodbus client:
- ``drop``: on TCP the server closes the connection and the transport reports ConnectionLost;
  on RTU a cut line is silence (InstrumentTimeout).
- ``garbled``: on RTU the CRC fails and pymodbus discards the frame, so the request times out
  (InstrumentTimeout). On TCP the corrupted function byte (0x03 ^ 0xA5 = 0xA6) has its top bit
  set and pymodbus decodes it as an exception response; the transport sees that it does not
  echo the request's function and raises ProtocolError.
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
from drivers.keller import KellerSeries30
from simulators.base import SimulatedInstrument
from simulators.faults import Fault
from tests.fault_matrix import FaultCase, check_fault, fault_params, wanders

NOISE = 1e-4
"""Standard deviation of the simulated pressure, bar."""


async def pressure(driver: Driver[Any, Any]) -> object:
    assert isinstance(driver, KellerSeries30)
    return await driver.pressure()


async def overflows(driver: Driver[Any, Any], sim: SimulatedInstrument) -> None:
    """P1 reads +inf, the transmitter's overflow: an error for a procedure, a status for
    monitoring; the temperature channel is unaffected."""
    assert isinstance(driver, KellerSeries30)
    with pytest.raises(OverloadError, match=r"\+inf"):
        await driver.pressure()
    p1, tob1 = await driver.read()
    assert (p1.value, p1.status, p1.raw) == (math.inf, Status.OVERLOAD, "7F80 0000")
    assert tob1.status is Status.OK


async def device_failure(driver: Driver[Any, Any], sim: SimulatedInstrument) -> None:
    """Every request gets Modbus exception 4 (device failure)."""
    with pytest.raises(InstrumentReportedError) as raised:
        await pressure(driver)
    assert raised.value.code == 4


def case(
    name: str,
    connection: dict[str, Any],
    garbled: type[InstrumentError],
    dropped: type[InstrumentError],
) -> FaultCase:
    return FaultCase(
        name=name,
        instrument={
            "id": "pt-1",
            "driver": "keller_s30",
            "role": "pressure_gauge",
            "connection": {**connection, "timeout": 0.3},
            "simulator": {"seed": 1, "noise": NOISE},
        },
        operation=pressure,
        expected={
            Fault.NO_REPLY: InstrumentTimeout,
            Fault.GARBLED: garbled,
            Fault.DROP: dropped,
            Fault.NEVER_SETTLE: wanders(pressure, NOISE),
            Fault.OVERLOAD: overflows,
            Fault.ERROR_REPLY: device_failure,
        },
    )


CASES = [
    case(
        "keller_s30-tcp",
        {"type": "modbus_tcp", "host": "127.0.0.1", "port": 1},
        ProtocolError,
        ConnectionLost,
    ),
    case(
        "keller_s30-rtu",
        {"type": "modbus_rtu", "port": "rs485-1"},
        InstrumentTimeout,
        InstrumentTimeout,
    ),
]


@pytest.mark.parametrize(("case", "fault"), fault_params(CASES))
async def test_fault(case: FaultCase, fault: Fault, tmp_path: Path) -> None:
    await check_fault(case, fault, tmp_path)
