"""Register values: numbers in one or two 16-bit Modbus registers, by pymodbus's own
conversions. pymodbus loads at the first conversion, not at import, so a lab file naming a
Modbus instrument is checked without it."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from pymodbus.client.mixin import ModbusClientMixin

WordOrder = Literal["big", "little"]


@cache
def _mixin() -> type[ModbusClientMixin[object]]:
    from pymodbus.client.mixin import ModbusClientMixin

    return ModbusClientMixin


def _type(kind: str) -> ModbusClientMixin.DATATYPE:
    """pymodbus's data type named like ours (``float32`` is ``FLOAT32``)."""
    datatype: ModbusClientMixin.DATATYPE = getattr(_mixin().DATATYPE, kind.upper())
    return datatype


def decode_float32(registers: list[int], word_order: WordOrder = "big") -> float:
    """Two registers to an IEEE-754 float; ``big`` is high word first (ABCD)."""
    value = _mixin().convert_from_registers(registers, _type("float32"), word_order)
    assert isinstance(value, float)
    return value


def encode_float32(value: float, word_order: WordOrder = "big") -> list[int]:
    return _mixin().convert_to_registers(value, _type("float32"), word_order)


def decode_uint32(registers: list[int], word_order: WordOrder = "big") -> int:
    value = _mixin().convert_from_registers(registers, _type("uint32"), word_order)
    assert isinstance(value, int)
    return value


def encode_uint32(value: int, word_order: WordOrder = "big") -> list[int]:
    return _mixin().convert_to_registers(value, _type("uint32"), word_order)


RegisterType = Literal["int16", "uint16", "int32", "uint32", "float32"]
REGISTER_COUNT: dict[str, int] = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2}


def decode(registers: list[int], kind: RegisterType, word_order: WordOrder = "big") -> float:
    """Registers as a number of the given type (the word order matters for two registers)."""
    value = _mixin().convert_from_registers(registers, _type(kind), word_order)
    assert isinstance(value, int | float)
    return float(value)


def encode(value: float, kind: RegisterType, word_order: WordOrder = "big") -> list[int]:
    number: float | int = value if kind == "float32" else round(value)
    return _mixin().convert_to_registers(number, _type(kind), word_order)


def decode_int16(register: int) -> int:
    value = _mixin().convert_from_registers([register], _type("int16"))
    assert isinstance(value, int)
    return value


def encode_int16(value: int) -> int:
    return _mixin().convert_to_registers(value, _type("int16"))[0]


def scaled_int16(raw_register: int, decimals: int) -> float:
    """A signed int16 register divided by 10**decimals (the common transmitter map)."""
    if not 0 <= decimals <= 6:
        raise ValueError(f"decimals register holds {decimals}, expected 0..6")
    return decode_int16(raw_register) / 10.0**decimals
