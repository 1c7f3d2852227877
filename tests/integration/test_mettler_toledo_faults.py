"""MT-SICS balance × every fault, over TCP and over a pty."""

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
from drivers.mettler_toledo import MtSicsBalance
from simulators.base import SimulatedInstrument
from simulators.faults import Fault
from tests.fault_matrix import FaultCase, check_fault, fault_params


async def weigh(driver: Driver[Any, Any]) -> object:
    assert isinstance(driver, MtSicsBalance)
    return await driver.weigh()


async def never_settles(driver: Driver[Any, Any], sim: SimulatedInstrument) -> None:
    """S answers I once the balance's stability timeout ends; SI keeps giving dynamic values."""
    assert isinstance(driver, MtSicsBalance)
    with pytest.raises(InstrumentReportedError) as raised:
        await driver.weigh()
    assert raised.value.code == "I"
    readings = [await driver.weigh(stable=False) for _ in range(3)]
    assert all(r.status.value == "unstable" for r in readings)


def case(name: str, connection: dict[str, Any], dropped: type[Exception]) -> FaultCase:
    return FaultCase(
        name=name,
        instrument={
            "id": "balance-1",
            "driver": "mt_sics",
            "role": "balance",
            "connection": {**connection, "timeout": 0.3},
            "settings": {"stable_timeout": 2.0},
            "simulator": {"stable_timeout": 5.0, "seed": 1},
        },
        operation=weigh,
        expected={
            Fault.NO_REPLY: InstrumentTimeout,
            Fault.GARBLED: ProtocolError,
            Fault.DROP: dropped,
            Fault.NEVER_SETTLE: never_settles,
            Fault.OVERLOAD: OverloadError,
            Fault.ERROR_REPLY: InstrumentReportedError,
        },
    )


CASES = [
    case("mt_sics-tcp", {"type": "tcp", "host": "127.0.0.1", "port": 1}, ConnectionLost),
    case("mt_sics-pty", {"type": "serial", "port": "balance-1"}, ConnectionLost),
]


@pytest.mark.parametrize(("case", "fault"), fault_params(CASES))
async def test_fault(case: FaultCase, fault: Fault, tmp_path: Path) -> None:
    await check_fault(case, fault, tmp_path)
