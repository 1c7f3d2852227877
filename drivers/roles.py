"""Roles: what procedures and the agent depend on, independent of the instrument family."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from daq.reading import Reading

BALANCE = "balance"
THERMOMETER = "thermometer"
PRESSURE_GAUGE = "pressure_gauge"

ROLES = frozenset({BALANCE, THERMOMETER, PRESSURE_GAUGE})


@runtime_checkable
class Balance(Protocol):
    async def weigh(self, *, stable: bool = True) -> Reading: ...

    async def zero(self) -> None: ...

    async def tare(self) -> Reading: ...


@runtime_checkable
class Thermometer(Protocol):
    async def temperature(self, channel: int | None = None) -> Reading: ...


@runtime_checkable
class PressureGauge(Protocol):
    async def pressure(self) -> Reading: ...
