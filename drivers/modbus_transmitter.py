"""Generic RS-485 pressure transmitters with the common int16 map (MPD-380 class and clones).

The value is a signed int16 scaled by a decimals register, its unit a code in another:
``value = (raw + zero offset) / 10**decimals`` (reference §3.4.2). One request reads unit,
decimals and value together, so a reading can never mix a new value with an old scale.

Inference: the map has no over-range flag; a saturated ADC reads the int16 limits, so a raw
value of 32767 is an overload and -32768 an underload. ``read()`` keeps them as reading
statuses (value NaN) so monitoring goes on; ``pressure()`` raises them as typed errors.
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal

from daq.core.errors import OverloadError, ProtocolError, UnderloadError
from daq.core.reading import Reading, Status
from drivers.base import Driver, Identity, NoSettings, RegisterProbe
from drivers.roles import PRESSURE_GAUGE
from drivers.transports.base import RegisterTransport
from drivers.transports.registers import decode_int16

DEVICE_ADDRESS = 0x0000
UNIT_DECIMALS_VALUE = 0x0002
"""Unit code, decimal places, measured value: three registers from here."""
RANGE = 0x0005
ZERO_OFFSET = 0x000C

UNITS = {
    0: "MPa",
    1: "kPa",
    2: "Pa",
    3: "bar",
    4: "mbar",
    5: "kgf/cm²",
    6: "psi",
    7: "mH2O",
    8: "mmH2O",
}


def unit_of(code: int) -> str:
    try:
        return UNITS[code]
    except KeyError:
        raise ProtocolError(f"unit code {code} is not one of {sorted(UNITS)}") from None


RAW_OVERLOAD = 0x7FFF
"""32767, the int16 limit a saturated ADC reads above the range."""
RAW_UNDERLOAD = 0x8000
"""-32768 as a register, the limit below the range."""


def raw_status(raw: int) -> Status:
    """What the value register says about the measurement: the int16 limits are saturation."""
    if raw == RAW_OVERLOAD:
        return Status.OVERLOAD
    if raw == RAW_UNDERLOAD:
        return Status.UNDERLOAD
    return Status.OK


def engineering_value(raw: int, decimals: int, offset: int = 0) -> float:
    """(raw + offset) / 10**decimals, with raw and offset as signed int16 registers."""
    if not 0 <= decimals <= 4:
        raise ProtocolError(f"decimals register holds {decimals}, expected 0..4")
    return (decode_int16(raw) + decode_int16(offset)) / 10.0**decimals


def _looks_like_the_map(registers: list[int], device_id: int) -> bool:
    """The map's first registers: its own address, then a unit code and decimals in range."""
    address, _, unit, decimals = registers[:4]
    return address == device_id and unit <= 8 and decimals <= 4


class ModbusTransmitter(Driver[RegisterTransport, NoSettings]):
    """A pressure transmitter with the int16 + decimals + unit-code register map."""

    family: ClassVar[str] = "modbus_int16"
    probe: ClassVar[RegisterProbe] = RegisterProbe(0x0000, 7, _looks_like_the_map, order=1)
    roles: ClassVar[frozenset[str]] = frozenset({PRESSURE_GAUGE})
    link: ClassVar[Literal["line", "modbus", "operator"]] = "modbus"
    serial_reported: ClassVar[bool] = False
    """The map has no serial number: ``identify()`` gives the device address instead."""
    _offset: int | None = None

    async def _registers(self, address: int, count: int) -> list[int]:
        registers = await self.transport.read_holding_registers(address, count)
        if len(registers) != count:
            raise ProtocolError(f"{self.id}: expected {count} registers, got {registers!r}")
        return registers

    async def identify(self) -> Identity:
        """The map has no identity registers: the device address and range stand in."""
        [address] = await self._registers(DEVICE_ADDRESS, 1)
        unit, decimals, _ = await self._registers(UNIT_DECIMALS_VALUE, 3)
        low, high = await self._registers(RANGE, 2)
        span = f"{engineering_value(low, decimals)}..{engineering_value(high, decimals)}"
        return Identity("generic", f"int16 transmitter {span} {unit_of(unit)}", str(address))

    async def _measure(self) -> Reading:
        """The pressure; a saturated value register gives an OVERLOAD/UNDERLOAD reading, NaN."""
        if self._offset is None:
            [self._offset] = await self._registers(ZERO_OFFSET, 1)
        unit, decimals, raw = registers = await self._registers(UNIT_DECIMALS_VALUE, 3)
        status = raw_status(raw)
        value = engineering_value(raw, decimals, self._offset)
        text = " ".join(f"{r:04X}" for r in registers)
        return Reading(
            self.id,
            "pressure",
            value if status is Status.OK else math.nan,
            unit_of(unit),
            self.clock.now(),
            status,
            text,
        )

    async def pressure(self) -> Reading:
        """The pressure; a saturated value register raises OverloadError/UnderloadError."""
        reading = await self._measure()
        match reading.status:
            case Status.OVERLOAD:
                raise OverloadError(f"{self.id} pressure: above the range (value register 32767)")
            case Status.UNDERLOAD:
                raise UnderloadError(f"{self.id} pressure: below the range (value register -32768)")
        return reading

    async def read(self) -> list[Reading]:
        return [await self._measure()]
