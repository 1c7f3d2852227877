"""Weighing errors of both simulated balances, seen through their drivers over TCP and
checked against the formula of simulators/weighing.py."""

from __future__ import annotations

from typing import Any

import pytest

from daq.core.clock import Clock
from drivers.mettler_toledo import MtSicsBalance
from drivers.sartorius import SartoriusBalance
from drivers.transports.settings import TcpConnection, open_line_transport
from simulators.mettler_toledo import MtSicsSettings, MtSicsSimulator
from simulators.sartorius import SartoriusSettings, SartoriusSimulator
from simulators.servers import TcpLineServer

ERRORS: dict[str, Any] = {
    "span_error": 1e-4,
    "nonlinearity": 0.002,
    "eccentricity": {"front": 5e-5, "left": -3e-5},
    "noise": 0.0,
    "time_constant": 0.0,
}


def expected(load: float, capacity: float, eccentricity: float) -> float:
    x = load / capacity
    return load + 1e-4 * load + 0.002 * 4 * x * (1 - x) + eccentricity * load


@pytest.mark.parametrize("family", ["mt_sics", "sartorius_sbi"])
async def test_span_nonlinearity_and_eccentricity(family: str) -> None:
    clock = Clock()
    sim: MtSicsSimulator | SartoriusSimulator
    if family == "mt_sics":
        sim = MtSicsSimulator(MtSicsSettings(decimals=4, **ERRORS), clock)
        driver_cls: Any = MtSicsBalance
    else:
        sim = SartoriusSimulator(SartoriusSettings(decimals=4, **ERRORS), clock)
        driver_cls = SartoriusBalance
    server = await TcpLineServer(sim).start()
    connection = TcpConnection(type="tcp", host="127.0.0.1", port=server.port, timeout=1)
    balance = driver_cls("b", open_line_transport("b", connection), driver_cls.Settings(), clock)
    try:
        for load, position, eccentricity in [
            (100.0, "centre", 0.0),
            (100.0, "front", 5e-5),
            (200.0, "left", -3e-5),
            (110.0, "centre", 0.0),  # half capacity: the largest non-linearity
        ]:
            sim.remove()
            sim.place(load, position)
            weight = await balance.weigh()
            assert weight.value == pytest.approx(expected(load, 220.0, eccentricity), abs=1e-4)
        assert weight.value - 110.0 == pytest.approx(0.011 + 0.002, abs=1e-4)
    finally:
        await balance.close()
        await server.stop()
