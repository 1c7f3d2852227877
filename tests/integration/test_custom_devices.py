"""Declarative devices: validated with the lab file, read end to end, every fault."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from daq.config import ConfigError, parse_lab
from daq.core.clock import Clock
from daq.core.errors import (
    ConnectionLost,
    InstrumentReportedError,
    InstrumentTimeout,
    ProtocolError,
)
from daq.session import lab_session
from drivers.base import Driver
from drivers.custom import CustomLineDevice, CustomModbusDevice
from simulators.base import SimulatedInstrument
from simulators.faults import Fault
from tests.fault_matrix import FaultCase, check_fault, fault_params, wanders

HYGROMETER: dict[str, Any] = {
    "id": "hygro-1",
    "driver": "custom_line",
    "role": "thermometer",
    "connection": {"type": "tcp", "host": "127.0.0.1", "port": 1, "timeout": 0.3},
    "settings": {
        "readings": [
            {
                "quantity": "temperature",
                "command": "T?",
                "pattern": r"T=(?P<value>\S+) C",
                "unit": "°C",
            },
            {"quantity": "humidity", "command": "H?", "pattern": r"RH ([\d.]+)%", "unit": "%"},
        ],
        "error_query": "SYST:ERR?",
    },
    "simulator": {
        "seed": 1,
        "replies": {
            "T?": {"value": 21.5, "noise": 0.001, "format": "T={value:.3f} C"},
            "H?": {"value": 45.0, "format": "RH {value:.1f}%"},
        },
    },
}

BAROMETER: dict[str, Any] = {
    "id": "baro-1",
    "driver": "custom_modbus",
    "role": "pressure_gauge",
    "connection": {"type": "modbus_tcp", "host": "127.0.0.1", "port": 1, "timeout": 0.3},
    "settings": {
        "registers": [
            {
                "quantity": "pressure",
                "address": 0x10,
                "type": "float32",
                "word_order": "little",
                "unit": "hPa",
            },
            {
                "quantity": "temperature",
                "address": 0x20,
                "type": "int16",
                "scale": 0.01,
                "unit": "°C",
            },
        ]
    },
    "simulator": {
        "seed": 1,
        "registers": [
            {
                "address": 0x10,
                "type": "float32",
                "word_order": "little",
                "value": 1013.25,
                "noise": 0.01,
            },
            {"address": 0x20, "type": "int16", "scale": 0.01, "value": 22.34},
        ],
    },
}


def lab(*instruments: dict[str, Any]) -> str:
    entries = [{"simulate": True, **i} for i in instruments]
    return yaml.safe_dump(
        {"lab": {"id": "custom-lab"}, "benches": [{"id": "b", "instruments": entries}]},
        allow_unicode=True,
    )


def test_declarations_are_validated_with_the_lab_file() -> None:
    bad_line = {
        **HYGROMETER,
        "settings": {
            "readings": [
                {"quantity": "t", "command": "T?", "pattern": "T=(", "unit": "°C"},
                {"quantity": "t", "command": "T?", "pattern": "T=\\S+", "unit": "°C"},
                {"quantity": "t", "command": "T?", "unit": "blargs"},
            ]
        },
    }
    bad_modbus = {
        **BAROMETER,
        "settings": {
            "registers": [
                {"quantity": "p", "address": 70000, "unit": "hPa"},
                {"quantity": "p", "address": 1, "type": "double", "unit": "hPa"},
            ]
        },
    }
    with pytest.raises(ConfigError) as raised:
        parse_lab(lab(bad_line, bad_modbus), "lab.yaml")
    found = {p.path: p.message for p in raised.value.problems}
    base, modbus = "benches[b].instruments[hygro-1].settings", "benches[b].instruments[baro-1]"
    assert found[f"{base}.readings[0].pattern"].startswith("not a regular expression")
    assert (
        found[f"{base}.readings[1].pattern"] == "needs a group named 'value' or exactly one group"
    )
    assert found[f"{base}.readings[2].unit"] == "unknown unit 'blargs'"
    assert "less than or equal to 65535" in found[f"{modbus}.settings.registers[0].address"]
    assert "float32" in found[f"{modbus}.settings.registers[1].type"]


async def read_all(driver: Driver[Any, Any]) -> object:
    assert isinstance(driver, CustomLineDevice | CustomModbusDevice)
    readings = await driver.read()
    assert all(math.isfinite(r.value) for r in readings)
    return readings


async def hygrometer_values(driver: Driver[Any, Any], sim: SimulatedInstrument) -> None:
    assert isinstance(driver, CustomLineDevice)
    temperature, humidity = await driver.read()
    assert (temperature.quantity, temperature.unit) == ("temperature", "°C")
    assert abs(temperature.value - 21.5) < 0.01 and temperature.raw.startswith("T=21.")
    assert (humidity.value, humidity.unit) == (45.0, "%")
    assert abs((await driver.temperature()).value - 21.5) < 0.01


async def barometer_values(driver: Driver[Any, Any], sim: SimulatedInstrument) -> None:
    assert isinstance(driver, CustomModbusDevice)
    pressure, temperature = await driver.read()
    assert abs(pressure.value - 1013.25) < 0.1 and pressure.unit == "hPa"
    assert temperature.value == pytest.approx(22.34) and temperature.raw == "08BA"
    assert (await driver.pressure()).quantity == "pressure"


@pytest.mark.parametrize(
    ("instrument", "check"), [(HYGROMETER, hygrometer_values), (BAROMETER, barometer_values)]
)
async def test_end_to_end(instrument: dict[str, Any], check: Any, tmp_path: Path) -> None:
    config = parse_lab(lab(instrument), "lab.yaml")
    journal = config.journal.model_copy(update={"path": tmp_path / "daq.sqlite"})
    config = config.model_copy(update={"journal": journal})
    async with lab_session(config, Clock(), simulate=True) as session:
        [(_, driver)] = session.drivers()
        assert session.simulation is not None
        try:
            await check(driver, session.simulation.simulator(instrument["id"]))
        finally:
            await driver.close()


async def first(driver: Driver[Any, Any]) -> object:
    assert isinstance(driver, CustomLineDevice | CustomModbusDevice)
    return (await driver.read())[0]


async def saturated(driver: Driver[Any, Any], sim: SimulatedInstrument) -> None:
    """A declared map has no over-range flag: the reading shows the type's largest value."""
    pressure, temperature = await read_all_readings(driver)
    assert pressure.value == pytest.approx(3.0e38, rel=1e-6)
    assert temperature.value == pytest.approx(327.67)


async def read_all_readings(driver: Driver[Any, Any]) -> list[Any]:
    assert isinstance(driver, CustomModbusDevice)
    return await driver.read()


async def refused(driver: Driver[Any, Any], sim: SimulatedInstrument) -> None:
    with pytest.raises(InstrumentTimeout, match="Device-specific error"):
        await read_all(driver)


CASES = [
    FaultCase(
        name="custom_line-tcp",
        instrument=HYGROMETER,
        operation=read_all,
        expected={
            Fault.NO_REPLY: InstrumentTimeout,
            Fault.GARBLED: ProtocolError,
            Fault.DROP: ConnectionLost,
            Fault.NEVER_SETTLE: wanders(first, 0.001),
            Fault.OVERLOAD: ProtocolError,
            Fault.ERROR_REPLY: refused,
        },
    ),
    FaultCase(
        name="custom_modbus-tcp",
        instrument=BAROMETER,
        operation=read_all,
        expected={
            Fault.NO_REPLY: InstrumentTimeout,
            Fault.GARBLED: ProtocolError,
            Fault.DROP: ConnectionLost,
            Fault.NEVER_SETTLE: wanders(first, 0.01),
            Fault.OVERLOAD: saturated,
            Fault.ERROR_REPLY: InstrumentReportedError,
        },
    ),
]


@pytest.mark.parametrize(("case", "fault"), fault_params(CASES))
async def test_fault(case: FaultCase, fault: Fault, tmp_path: Path) -> None:
    await check_fault(case, fault, tmp_path)
