"""Declarative devices: a simple instrument described in the lab file instead of Python.

``custom_line`` sends each configured query and takes the value out of the reply with a
regular expression (its group ``value``, or its only group), then applies ``scale`` and
``offset``. ``custom_modbus`` reads each configured register with its data type and word
order. Both are validated with the rest of the lab file: a pattern that does not compile or
has no value group, an unknown unit or a bad register address is a config error naming the
field. Readings carry the declared quantity and unit; the thermometer and pressure-gauge
roles take the first reading whose unit measures a temperature or a pressure.
"""

from __future__ import annotations

import math
import re
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from daq.core.errors import InstrumentTimeout, ProtocolError
from daq.core.reading import Reading
from daq.core.units import check_unit, convert
from drivers.base import Driver, Identity
from drivers.roles import PRESSURE_GAUGE, THERMOMETER
from drivers.transports.base import LineTransport, RegisterTransport
from drivers.transports.registers import REGISTER_COUNT, RegisterType, WordOrder, decode


class _Declared(BaseModel):
    model_config = ConfigDict(extra="forbid")

    quantity: str = Field(min_length=1)
    unit: str
    scale: float = 1.0
    offset: float = 0.0
    """Value = number read × scale + offset."""

    @field_validator("unit")
    @classmethod
    def _known_unit(cls, unit: str) -> str:
        return check_unit(unit)


class LineQuery(_Declared):
    command: str = Field(min_length=1)
    pattern: str = r"\s*([-+]?[\d.]+(?:[eE][-+]?\d+)?)\s*"
    """Regular expression the whole reply must match; group ``value`` or its only group."""

    @field_validator("pattern")
    @classmethod
    def _one_value_group(cls, pattern: str) -> str:
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        if "value" not in compiled.groupindex and compiled.groups != 1:
            raise ValueError("needs a group named 'value' or exactly one group")
        return pattern


class CustomLineSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    identify: str | None = "*IDN?"
    """Query whose reply identifies the instrument; None if it has none."""
    readings: list[LineQuery] = Field(min_length=1)
    error_query: str | None = None
    """Asked after a query times out (e.g. ``SYST:ERR?``); its reply goes into the error."""


class Register(_Declared):
    address: int = Field(ge=0, le=0xFFFF)
    type: RegisterType = "float32"
    word_order: WordOrder = "big"
    function: Literal["holding", "input"] = "holding"


class CustomModbusSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    registers: list[Register] = Field(min_length=1)


def _measures(unit: str, reference: str) -> bool:
    try:
        convert(1.0, unit, reference)
    except ValueError:
        return False
    return True


def first_of(readings: list[Reading], reference: str, what: str) -> Reading:
    """The first reading whose unit measures what ``reference`` measures."""
    for reading in readings:
        if _measures(reading.unit, reference):
            return reading
    raise ProtocolError(f"no {what} among the declared readings")


class CustomLineDevice(Driver[LineTransport, CustomLineSettings]):
    family: ClassVar[str] = "custom_line"
    roles: ClassVar[frozenset[str]] = frozenset({THERMOMETER, PRESSURE_GAUGE})
    link: ClassVar[Literal["line", "modbus", "operator"]] = "line"
    Settings: ClassVar[type[BaseModel]] = CustomLineSettings

    async def identify(self) -> Identity:
        command = self.settings.identify
        if command is None:
            return Identity("custom", "declared line device", "")
        fields = [f.strip() for f in (await self.transport.query(command)).split(",")]
        return Identity(*[*fields, "", "", ""][:4])

    async def _query(self, command: str) -> str:
        try:
            return await self.transport.query(command)
        except InstrumentTimeout as exc:
            if self.settings.error_query is None:
                raise
            reported = await self.transport.query(self.settings.error_query)
            raise InstrumentTimeout(f"{exc}; the instrument reports {reported!r}") from None

    async def read(self) -> list[Reading]:
        readings = []
        for query in self.settings.readings:
            reply = await self._query(query.command)
            match = re.fullmatch(query.pattern, reply)
            if match is None:
                raise ProtocolError(
                    f"{self.id}: reply {reply!r} to {query.command!r} does not match"
                )
            text = match["value"] if "value" in match.re.groupindex else match[1]
            try:
                number = float(text)
            except (TypeError, ValueError):
                raise ProtocolError(f"{self.id}: {text!r} in {reply!r} is not a number") from None
            if not math.isfinite(number):
                raise ProtocolError(f"{self.id}: {text!r} in {reply!r} is not a finite number")
            value = number * query.scale + query.offset
            readings.append(
                Reading(self.id, query.quantity, value, query.unit, self.clock.now(), raw=reply)
            )
        return readings

    async def temperature(self, channel: int | None = None) -> Reading:
        return first_of(await self.read(), "K", "temperature")

    async def pressure(self) -> Reading:
        return first_of(await self.read(), "Pa", "pressure")


class CustomModbusDevice(Driver[RegisterTransport, CustomModbusSettings]):
    family: ClassVar[str] = "custom_modbus"
    roles: ClassVar[frozenset[str]] = frozenset({THERMOMETER, PRESSURE_GAUGE})
    link: ClassVar[Literal["line", "modbus", "operator"]] = "modbus"
    Settings: ClassVar[type[BaseModel]] = CustomModbusSettings

    async def identify(self) -> Identity:
        """A declared map has no identity registers: the first one read stands for it."""
        first = self.settings.registers[0]
        await self._read(first)
        return Identity("custom", "declared Modbus device", "")

    async def _read(self, register: Register) -> list[int]:
        count = REGISTER_COUNT[register.type]
        if register.function == "input":
            words = await self.transport.read_input_registers(register.address, count)
        else:
            words = await self.transport.read_holding_registers(register.address, count)
        if len(words) != count:
            raise ProtocolError(f"{self.id}: expected {count} registers, got {words!r}")
        return words

    async def read(self) -> list[Reading]:
        readings = []
        for register in self.settings.registers:
            words = await self._read(register)
            number = decode(words, register.type, register.word_order)
            if math.isnan(number):
                raise ProtocolError(f"{self.id}: register 0x{register.address:04X} holds NaN")
            value = number * register.scale + register.offset
            raw = " ".join(f"{w:04X}" for w in words)
            readings.append(
                Reading(self.id, register.quantity, value, register.unit, self.clock.now(), raw=raw)
            )
        return readings

    async def temperature(self, channel: int | None = None) -> Reading:
        return first_of(await self.read(), "K", "temperature")

    async def pressure(self) -> Reading:
        return first_of(await self.read(), "Pa", "pressure")
