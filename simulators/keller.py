"""A simulated KELLER Series 30 transmitter: its Modbus register map over a pressure model.

Every read is one measurement cycle: the pressure and temperature models are observed and
written into the float map (0x0000), the int32 map (0x0010) and the alternate map (0x0100)
before pymodbus answers, so any Modbus client sees live values. Addresses outside the map give
exception 2 (illegal data address), as on the device.

The sensor is not perfect unless told so: ``PressureSensor`` gives its indication a zero
error, a span error, non-linearity and hysteresis (all zero by default), so a calibration
can find a transmitter out of tolerance. The same model serves the int16 transmitters.

Faults, in the transmitter's own protocol (reference §3.4.1):
- ``never_settle``: pressure and temperature wander; the map has no stable flag, so
  successive readings simply differ by far more than the noise.
- ``overload``: P1 (and CH0) read +inf, the float map's overflow; the int32 map holds its
  overflow value 2147483647.
- ``error_reply``: every request gets Modbus exception 4 (device failure), from
  ``ModbusSimulator.on_access``; the Series 30 answers standard Modbus exceptions and the
  reference names no other error reply.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from typing import ClassVar

from pydantic import Field
from pymodbus.simulator import DataType, SimData, SimDevice

from daq.core.clock import Clock
from simulators.base import ModbusSimulator, SimulatorSettings
from simulators.faults import Fault
from simulators.pressure import PressureSensor, PressureSensorSettings

FLOATS = 0x0000
"""CH0, P1, P2, T, TOB1, TOB2 as float32."""
INTEGERS = 0x0010
"""The same six channels as int32: pressure in 1/100 mbar, temperature in 1/100 °C."""
P1_TOB1 = 0x0100
SERIAL_NUMBER = 0x0202
DEVICE_ADDRESS = 0x020D
FIRMWARE = 0x020F

INT32_OVERFLOW = 2**31 - 1
INT32_UNDERFLOW = -(2**31)


class KellerSeries30Settings(PressureSensorSettings):
    """The simulated transmitter: identity, sensor range and the physics of its readings."""

    serial_number: int = Field(1234567, ge=0, le=0xFFFF_FFFF)
    firmware_year: int = Field(2020, ge=2000, le=2255)
    firmware_week: int = Field(14, ge=1, le=53)
    pressure: float = 1.01325
    """Applied pressure at start, bar."""
    temperature: float = 22.5
    """Sensor temperature, °C."""
    noise: float = Field(2e-5, ge=0)
    """Standard deviation of the pressure reading, bar."""
    temperature_noise: float = Field(0.005, ge=0)
    """Standard deviation of the temperature reading, °C."""
    drift_per_hour: float = 0.0
    """Zero drift of the pressure reading, bar per hour."""
    time_constant: float = Field(2.0, ge=0)
    """Settling time constant after ``set_pressure``, seconds of process time."""
    range_min: float = 0.0
    """Lowest pressure the sensor indicates, bar; below it P1 reads -inf."""
    range_max: float = 10.0
    """Highest pressure the sensor indicates, bar; above it P1 reads +inf."""
    channel_error: bool = False
    """Start with a failed pressure channel (P1 reads NaN)."""


def _float_registers(value: float) -> list[int]:
    return list(struct.unpack(">2H", struct.pack(">f", value)))


def _int32_registers(value: float, scale: float) -> list[int]:
    """Scaled int32; NaN and out-of-range values give the overflow/underflow sentinels.

    Inference: the reference names the sentinels for over/underflow only; a channel error
    (NaN) is served as overflow.
    """
    if math.isnan(value) or value * scale >= INT32_OVERFLOW:
        number = INT32_OVERFLOW
    elif value * scale <= INT32_UNDERFLOW:
        number = INT32_UNDERFLOW
    else:
        number = round(value * scale)
    return list(struct.unpack(">2H", struct.pack(">i", number)))


class KellerSeries30Simulator(ModbusSimulator):
    """One transmitter with one pressure sensor (P1) and its temperature sensor.

    Inference: CH0 is configured as P1 and T equals TOB1; the absent second sensor (P2, TOB2)
    reads NaN. Registers are read-only here: writes give exception 2, functions other than 3
    give exception 1 (the device supports 3, 6, 8 and 16; coefficient writes are not modelled).
    Over- and underflow follow the indication, the only pressure the transmitter knows.
    """

    family: ClassVar[str] = "keller_s30"
    Settings: ClassVar[type[SimulatorSettings]] = KellerSeries30Settings
    actions: ClassVar[tuple[str, ...]] = ("set_pressure", "set_channel_error")

    def __init__(self, settings: SimulatorSettings, clock: Clock) -> None:
        super().__init__(settings, clock)
        assert isinstance(settings, KellerSeries30Settings)
        self.config = settings
        self.sensor = PressureSensor(settings)
        self._pressure = self.process_value(
            settings.pressure,
            time_constant=settings.time_constant,
            noise=settings.noise,
            drift_per_hour=settings.drift_per_hour,
        )
        self._temperature = self.process_value(
            settings.temperature, noise=settings.temperature_noise
        )
        self._channel_error = settings.channel_error

    measures: ClassVar[str | None] = "pressure"

    def follow(self, source: Callable[[], float]) -> None:
        self._pressure.follow(source, self.sensor.pressure_changes)

    def set_pressure(self, bar: float) -> None:
        """Apply a new pressure; the reading settles toward it with the time constant."""
        self.sensor.pressure_changes(self._pressure.target, bar)
        self._pressure.set_target(bar)

    def set_channel_error(self, failed: bool) -> None:
        """Fail (or repair) the pressure channel: P1 and CH0 read NaN while failed."""
        self._channel_error = failed

    def _measure(self) -> tuple[float, float]:
        """One measurement cycle: (P1 in bar with the range flags, temperature in °C)."""
        pressure = self.sensor.indication(self._pressure.observe())
        if self._channel_error:
            pressure = math.nan
        elif self.has(Fault.OVERLOAD) or pressure > self.config.range_max:
            pressure = math.inf
        elif pressure < self.config.range_min:
            pressure = -math.inf
        return pressure, self._temperature.observe()

    def _process_registers(self) -> dict[int, list[int]]:
        """Start address -> register words of every live value."""
        p1, t = self._measure()
        channels = [p1, p1, math.nan, t, t, math.nan]
        scales = [1e5, 1e5, 1e5, 100.0, 100.0, 100.0]
        floats = [word for value in channels for word in _float_registers(value)]
        integers = [
            word
            for value, scale in zip(channels, scales, strict=True)
            for word in _int32_registers(value, scale)
        ]
        return {
            FLOATS: floats,
            INTEGERS: integers,
            P1_TOB1: _float_registers(p1) + _float_registers(t),
        }

    def refresh(self, start_address: int, registers: list[int]) -> None:
        """One measurement cycle into every live block of the map."""
        for first, words in self._process_registers().items():
            offset = first - start_address
            registers[offset : offset + len(words)] = words

    def sim_device(self, device_id: int) -> SimDevice:
        """The register map at ``device_id``; 0x020D holds the address in its low byte."""
        firmware = (self.config.firmware_year - 2000) << 8 | self.config.firmware_week
        live = {
            first: SimData(first, values=words, datatype=DataType.REGISTERS, readonly=True)
            for first, words in self._process_registers().items()
        }
        fixed = [
            SimData(
                SERIAL_NUMBER,
                values=self.config.serial_number,
                datatype=DataType.UINT32,
                readonly=True,
            ),
            SimData(DEVICE_ADDRESS, values=device_id, datatype=DataType.UINT16, readonly=True),
            SimData(FIRMWARE, values=firmware, datatype=DataType.UINT16, readonly=True),
        ]
        return SimDevice(device_id, simdata=[*live.values(), *fixed], action=self.on_access)
