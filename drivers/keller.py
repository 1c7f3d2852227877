"""KELLER Series 30 pressure transmitters (X-line 33X/35X/36X, Acculevel, Nanolevel) over Modbus.

Process values are IEEE-754 floats in holding registers, high word first (ABCD). The
transmitter flags its own state inside the float: NaN is a channel error, +inf an overflow and
-inf an underflow of the range. ``read()`` keeps those as reading statuses so monitoring goes
on; ``pressure()`` and ``temperature()`` raise them as typed errors so a procedure never uses
them as numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from daq.core.errors import (
    InstrumentReportedError,
    OverloadError,
    ProtocolError,
    UnderloadError,
)
from daq.core.reading import Reading, Status
from drivers.base import Driver, Identity, RegisterProbe
from drivers.roles import PRESSURE_GAUGE
from drivers.transports.base import RegisterTransport
from drivers.transports.registers import WordOrder, decode_float32, decode_uint32

P1 = 0x0002
"""Pressure of sensor 1, bar."""
T = 0x0006
"""Temperature channel T, °C."""
TOB1 = 0x0008
"""Temperature of pressure sensor 1, °C."""
P1_TOB1 = 0x0100
"""Alternate map: P1 then TOB1, so both come in one request."""
SERIAL_NUMBER = 0x0202
FIRMWARE = 0x020F

PRESSURE = ("pressure", "bar")
TEMPERATURE = ("temperature", "°C")


class KellerSettings(BaseModel):
    """How this transmitter lays out its values."""

    model_config = ConfigDict(extra="forbid")

    word_order: Literal["big", "little"] = "big"
    """``big``: high word first (ABCD), as KELLER sends; ``little`` for word-swapping devices."""
    single_request: bool = True
    """Read P1 + TOB1 in one request from the 0x0100 map; False (e.g. Nanolevel) reads P1 at
    0x0002 and T at 0x0006 in two requests."""


def registers_text(registers: Sequence[int]) -> str:
    """The register words as the raw text of a reading, e.g. ``"3F81 B22D"``."""
    return " ".join(f"{register:04X}" for register in registers)


def _check_registers(registers: Sequence[int], count: int) -> list[int]:
    if len(registers) != count or not all(0 <= r <= 0xFFFF for r in registers):
        raise ProtocolError(f"expected {count} 16-bit registers, got {list(registers)!r}")
    return list(registers)


def channel_value(registers: Sequence[int], word_order: WordOrder = "big") -> float:
    """One float channel from its two registers; NaN and ±inf are kept, they are device flags."""
    return decode_float32(_check_registers(registers, 2), word_order)


def channel_status(value: float) -> Status:
    """What a channel value says about the channel itself."""
    if math.isnan(value):
        return Status.ERROR
    if value == math.inf:
        return Status.OVERLOAD
    if value == -math.inf:
        return Status.UNDERLOAD
    return Status.OK


def measured(value: float, what: str) -> float:
    """The value as a number, or the typed error the transmitter signalled with it."""
    match channel_status(value):
        case Status.ERROR:
            raise InstrumentReportedError(f"{what}: channel error (transmitter reports NaN)")
        case Status.OVERLOAD:
            raise OverloadError(f"{what}: above the sensor range (transmitter reports +inf)")
        case Status.UNDERLOAD:
            raise UnderloadError(f"{what}: below the sensor range (transmitter reports -inf)")
    return value


def firmware_text(register: int) -> str:
    """Register 0x020F as KELLER prints it, ``year.week`` (e.g. 0x0C1C -> "12.28").

    Inference: the reference only says "year:week"; high byte = year since 2000 and low byte =
    week follows the "5.20-12.28" (class.group-year.week) version strings of KELLER devices.
    """
    year, week = _check_registers([register], 1)[0].to_bytes(2, "big")
    return f"{year:02d}.{week:02d}"


class KellerSeries30(Driver[RegisterTransport, KellerSettings]):
    """A KELLER Series 30 transmitter: pressure P1 in bar and its temperature in °C."""

    family: ClassVar[str] = "keller_s30"
    probe: ClassVar[RegisterProbe] = RegisterProbe(
        0x0202, 2, lambda registers, _: len(registers) == 2
    )
    """Its serial number."""
    roles: ClassVar[frozenset[str]] = frozenset({PRESSURE_GAUGE})
    link: ClassVar[Literal["line", "modbus", "operator"]] = "modbus"
    Settings: ClassVar[type[BaseModel]] = KellerSettings

    async def _registers(self, address: int, count: int) -> list[int]:
        registers = await self.transport.read_holding_registers(address, count)
        try:
            return _check_registers(registers, count)
        except ProtocolError as exc:
            raise ProtocolError(f"{self.id}: register 0x{address:04X}: {exc}") from None

    async def _channel(self, address: int) -> tuple[float, list[int]]:
        registers = await self._registers(address, 2)
        return channel_value(registers, self.settings.word_order), registers

    def _reading(self, quantity: tuple[str, str], value: float, registers: list[int]) -> Reading:
        name, unit = quantity
        return Reading(
            instrument=self.id,
            quantity=name,
            value=value,
            unit=unit,
            timestamp=self.clock.now(),
            status=channel_status(value),
            raw=registers_text(registers),
        )

    async def identify(self) -> Identity:
        """Serial number (uint32 at 0x0202) and firmware date (0x020F)."""
        serial = decode_uint32(await self._registers(SERIAL_NUMBER, 2), self.settings.word_order)
        firmware = firmware_text((await self._registers(FIRMWARE, 1))[0])
        return Identity("KELLER", "Series 30", str(serial), firmware)

    async def pressure(self) -> Reading:
        """P1 in bar; a channel error, overflow or underflow raises its typed error."""
        value, registers = await self._channel(P1)
        return self._reading(PRESSURE, measured(value, f"{self.id} pressure"), registers)

    async def temperature(self) -> Reading:
        """The temperature ``read()`` reports: TOB1 with the 0x0100 map, T otherwise."""
        value, registers = await self._channel(TOB1 if self.settings.single_request else T)
        return self._reading(TEMPERATURE, measured(value, f"{self.id} temperature"), registers)

    async def read(self) -> list[Reading]:
        """Pressure and temperature; flagged channels become ERROR/OVERLOAD/UNDERLOAD readings."""
        word_order = self.settings.word_order
        if self.settings.single_request:
            both = await self._registers(P1_TOB1, 4)
            p_registers, t_registers = both[:2], both[2:]
        else:
            p_registers = await self._registers(P1, 2)
            t_registers = await self._registers(T, 2)
        return [
            self._reading(PRESSURE, channel_value(p_registers, word_order), p_registers),
            self._reading(TEMPERATURE, channel_value(t_registers, word_order), t_registers),
        ]
