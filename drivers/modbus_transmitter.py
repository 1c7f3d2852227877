"""Generic RS-485 pressure transmitters with the common int16 map (MPD-380 class and clones).

The value is a signed int16 scaled by a decimals register, its unit a code in another:
``value = (raw + zero offset) / 10**decimals``. One request reads unit, decimals and value
together, so a reading can never mix a new value with an old scale.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from daq.reading import Reading
from drivers.base import Driver, Identity
from drivers.errors import ProtocolError
from drivers.roles import PRESSURE_GAUGE
from drivers.transports.base import RegisterTransport
from drivers.transports.modbus import decode_int16

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


def engineering_value(raw: int, decimals: int, offset: int = 0) -> float:
    """(raw + offset) / 10**decimals, with raw and offset as signed int16 registers."""
    if not 0 <= decimals <= 4:
        raise ProtocolError(f"decimals register holds {decimals}, expected 0..4")
    return (decode_int16(raw) + decode_int16(offset)) / 10.0**decimals


class ModbusTransmitter(Driver[RegisterTransport]):
    """A pressure transmitter with the int16 + decimals + unit-code register map."""

    family: ClassVar[str] = "modbus_int16"
    roles: ClassVar[frozenset[str]] = frozenset({PRESSURE_GAUGE})
    link: ClassVar[Literal["line", "modbus", "operator"]] = "modbus"
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

    async def pressure(self) -> Reading:
        if self._offset is None:
            [self._offset] = await self._registers(ZERO_OFFSET, 1)
        unit, decimals, raw = registers = await self._registers(UNIT_DECIMALS_VALUE, 3)
        value = engineering_value(raw, decimals, self._offset)
        text = " ".join(f"{r:04X}" for r in registers)
        return Reading(self.id, "pressure", value, unit_of(unit), self.clock.now(), raw=text)

    async def read(self) -> list[Reading]:
        return [await self.pressure()]
