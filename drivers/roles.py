"""Roles: what procedures and the agent depend on, independent of the instrument family."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from daq.core.reading import Reading

BALANCE = "balance"
THERMOMETER = "thermometer"
PRESSURE_GAUGE = "pressure_gauge"
TEMPERATURE_SOURCE = "temperature_source"
PRESSURE_CONTROLLER = "pressure_controller"

ROLES = frozenset({BALANCE, THERMOMETER, PRESSURE_GAUGE, TEMPERATURE_SOURCE, PRESSURE_CONTROLLER})


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


@runtime_checkable
class TemperatureSource(Protocol):
    """A dry-well, metrology well or bath that holds the comparison temperature. Values in °C."""

    async def set_point(self, value: float) -> None:
        """Set the control set point and switch the heater output on."""
        ...

    async def temperature(self) -> Reading:
        """The control-sensor temperature."""
        ...

    async def is_stable(self) -> bool:
        """The source's own stability verdict (its stability test or band)."""
        ...

    async def safe_state(self) -> None:
        """Heater output off: what an aborted run leaves behind."""
        ...


@runtime_checkable
class PressureController(Protocol):
    """A pressure controller generating the test pressure. Values in the driver's ``unit``."""

    unit: str

    async def set_point(self, value: float) -> None:
        """Set the control set point and switch control on."""
        ...

    async def pressure(self) -> Reading:
        """The measured pressure."""
        ...

    async def is_stable(self) -> bool:
        """The controller's own in-limits / stable flag."""
        ...

    async def vent(self) -> None:
        """Vent to atmosphere and wait until the controller says it has vented."""
        ...

    async def safe_state(self) -> None:
        """Control off and vented: what an aborted run leaves behind."""
        ...
