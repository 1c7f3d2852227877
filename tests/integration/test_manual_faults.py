"""Manual entry × every fault of the simulated operator."""

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
from drivers.base import Driver
from drivers.manual import ManualEntry
from simulators.base import SimulatedInstrument
from simulators.faults import Fault
from tests.fault_matrix import FaultCase, check_fault, fault_params


async def pressure(driver: Driver[Any, Any]) -> object:
    assert isinstance(driver, ManualEntry)
    return await driver.pressure()


async def wanders(driver: Driver[Any, Any], sim: SimulatedInstrument) -> None:
    """A pointer that never comes to rest: readings spread far beyond the reading step."""
    assert isinstance(driver, ManualEntry)
    values = []
    for _ in range(8):
        values.append((await driver.pressure()).value)
        await driver.clock.sleep(0.5)
    assert max(values) - min(values) > 5 * 0.02


CASE = FaultCase(
    name="manual",
    instrument={
        "id": "gauge-1",
        "driver": "manual",
        "role": "pressure_gauge",
        "connection": {"type": "manual", "answer_timeout": 0.3},
        "settings": {"quantity": "pressure", "unit": "bar", "minimum": 0, "maximum": 10},
        "simulator": {"value": 2.5, "reading_step": 0.02, "seed": 3},
    },
    operation=pressure,
    expected={
        Fault.NO_REPLY: InstrumentTimeout,
        Fault.GARBLED: ProtocolError,
        Fault.DROP: ConnectionLost,
        Fault.NEVER_SETTLE: wanders,
        Fault.OVERLOAD: OverloadError,
        Fault.ERROR_REPLY: InstrumentReportedError,
    },
)


@pytest.mark.parametrize(("case", "fault"), fault_params([CASE]))
async def test_fault(case: FaultCase, fault: Fault, tmp_path: Path) -> None:
    await check_fault(case, fault, tmp_path)
