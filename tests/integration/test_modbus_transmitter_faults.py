"""Generic int16 transmitter × every fault, over Modbus RTU and Modbus TCP (reference §3.4.2).

The link faults through the real pymodbus client (see tests/integration/test_keller_faults.py
for why): ``drop`` is ConnectionLost on TCP and InstrumentTimeout (silence) on RTU;
``garbled`` is an InstrumentTimeout on RTU (CRC failure, frame discarded) and a ProtocolError
on TCP (an exception reply that does not echo the request's function).
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
from drivers.modbus_transmitter import ModbusTransmitter
from simulators.base import SimulatedInstrument
from simulators.faults import Fault
from tests.fault_matrix import FaultCase, check_fault, fault_params, wanders

NOISE = 0.05
"""Standard deviation of the simulated pressure, kPa (the register resolves 0.1 kPa)."""


async def pressure(driver: Driver[Any, Any]) -> object:
    assert isinstance(driver, ModbusTransmitter)
    return await driver.pressure()


async def saturated(driver: Driver[Any, Any], sim: SimulatedInstrument) -> None:
    """The value register holds 32767, the saturated ADC: an error for a procedure, an
    OVERLOAD reading (NaN) for monitoring."""
    assert isinstance(driver, ModbusTransmitter)
    with pytest.raises(OverloadError, match="32767"):
        await driver.pressure()
    [reading] = await driver.read()
    assert reading.status is Status.OVERLOAD and math.isnan(reading.value)
    assert reading.raw.endswith("7FFF") and reading.unit == "kPa"


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
            "id": "gauge-1",
            "driver": "modbus_int16",
            "role": "pressure_gauge",
            "connection": {**connection, "timeout": 0.3},
            "simulator": {"seed": 1, "noise": NOISE, "unit": "kPa", "decimals": 1},
        },
        operation=pressure,
        expected={
            Fault.NO_REPLY: InstrumentTimeout,
            Fault.GARBLED: garbled,
            Fault.DROP: dropped,
            Fault.NEVER_SETTLE: wanders(pressure, NOISE),
            Fault.OVERLOAD: saturated,
            Fault.ERROR_REPLY: device_failure,
        },
    )


CASES = [
    case(
        "modbus_int16-rtu",
        {"type": "modbus_rtu", "port": "rs485-1"},
        InstrumentTimeout,
        InstrumentTimeout,
    ),
    case(
        "modbus_int16-tcp",
        {"type": "modbus_tcp", "host": "127.0.0.1", "port": 1},
        ProtocolError,
        ConnectionLost,
    ),
]


@pytest.mark.parametrize(("case", "fault"), fault_params(CASES))
async def test_fault(case: FaultCase, fault: Fault, tmp_path: Path) -> None:
    await check_fault(case, fault, tmp_path)
