"""A simulated generic int16 pressure transmitter (MPD-380 class register map).

Registers 0x0000-0x0006 (address, baud code, unit code, decimals, value, range) and
0x000C (zero offset); the value register follows the pressure model on every read.
Other addresses answer exception 2, as the device does (reference §3.4.2). The sensor's
indication has the zero, span, non-linearity and hysteresis errors of
``simulators.keller.PressureSensor`` (all zero by default).

Faults, in the transmitter's own protocol:
- ``never_settle``: the pressure wanders; the map has no stable flag, so successive
  readings simply differ by far more than the noise.
- ``overload``: the value register holds 32767. Inference: the map has no over-range flag;
  a saturated ADC reads the int16 limit, 32767 above and -32768 below. Outside the fault the
  value follows the pressure beyond the nominal range until the register saturates there.
- ``error_reply``: Modbus exception 4 (device failure) to every request, from
  ``ModbusSimulator.on_access``; the map has no other way to report an error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from pydantic import Field
from pymodbus.simulator import DataType, SimData, SimDevice

from daq.core.clock import Clock
from simulators.base import ModbusSimulator, SimulatorSettings
from simulators.faults import Fault
from simulators.pressure import PressureSensor, PressureSensorSettings

VALUE = 0x0004
UNIT_CODES = {"MPa": 0, "kPa": 1, "Pa": 2, "bar": 3, "mbar": 4, "psi": 6}
BAUD_CODE_9600 = 3
INT16_MAX = 32767
INT16_MIN = -32768


class TransmitterSettings(PressureSensorSettings):
    """The simulated transmitter: unit, resolution, range and the physics of its sensor."""

    unit: str = Field("kPa", pattern="^(MPa|kPa|Pa|bar|mbar|psi)$")
    decimals: int = Field(1, ge=0, le=3)
    pressure: float = 101.3
    """Applied pressure at start, in ``unit``."""
    range_min: float = 0.0
    range_max: float = 1000.0
    noise: float = Field(0.05, ge=0)
    time_constant: float = Field(1.0, ge=0)
    zero_offset: int = Field(0, ge=-32768, le=32767)
    """Raw counts added to the value (register 0x000C)."""


def _int16(value: int) -> int:
    return value & 0xFFFF


class ModbusTransmitterSimulator(ModbusSimulator):
    family: ClassVar[str] = "modbus_int16"
    Settings: ClassVar[type[SimulatorSettings]] = TransmitterSettings
    actions: ClassVar[tuple[str, ...]] = ("set_pressure",)

    def __init__(self, settings: SimulatorSettings, clock: Clock) -> None:
        super().__init__(settings, clock)
        assert isinstance(settings, TransmitterSettings)
        self.config = settings
        self.sensor = PressureSensor(settings)
        self._pressure = self.process_value(
            settings.pressure, time_constant=settings.time_constant, noise=settings.noise
        )

    measures: ClassVar[str | None] = "pressure"

    def follow(self, source: Callable[[], float]) -> None:
        self._pressure.follow(source, self.sensor.pressure_changes)

    def set_pressure(self, pressure: float) -> None:
        """Apply a new pressure (in the transmitter's unit); the value settles toward it."""
        self.sensor.pressure_changes(self._pressure.target, pressure)
        self._pressure.set_target(pressure)

    def _counts(self, value: float) -> int:
        """The value as the int16 register holds it, clipped like the device's output."""
        counts = round(value * 10.0**self.config.decimals) - self.config.zero_offset
        return max(INT16_MIN, min(INT16_MAX, counts))

    def _measured_counts(self) -> int:
        """One measurement of the value register; the overload fault saturates it."""
        if self.has(Fault.OVERLOAD):
            return INT16_MAX
        return self._counts(self.sensor.indication(self._pressure.observe()))

    def refresh(self, start_address: int, registers: list[int]) -> None:
        registers[VALUE - start_address] = _int16(self._measured_counts())

    def sim_device(self, device_id: int) -> SimDevice:
        config = self.config
        head = [
            device_id,
            BAUD_CODE_9600,
            UNIT_CODES[config.unit],
            config.decimals,
            _int16(self._counts(config.pressure)),
            _int16(self._counts(config.range_min)),
            _int16(self._counts(config.range_max)),
        ]
        return SimDevice(
            device_id,
            simdata=[
                SimData(0x0000, values=head, datatype=DataType.REGISTERS, readonly=True),
                SimData(
                    0x000C,
                    values=[_int16(config.zero_offset)],
                    datatype=DataType.REGISTERS,
                    readonly=True,
                ),
            ],
            action=self.on_access,
        )
