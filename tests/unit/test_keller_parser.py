"""Register conversions of the Modbus transport and the KELLER reading of channel values."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daq.core.errors import InstrumentError, ProtocolError
from daq.core.reading import Status
from drivers.keller import channel_status, channel_value, firmware_text, measured
from drivers.transports.registers import (
    WordOrder,
    decode_float32,
    decode_int16,
    decode_uint32,
    encode_float32,
    encode_int16,
    encode_uint32,
    scaled_int16,
)

register = st.integers(0, 0xFFFF)
word_orders = st.sampled_from(["big", "little"])


def same_float(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


@given(st.lists(st.integers(-2, 0x1_0001), max_size=4), word_orders)
def test_any_registers_give_a_float_or_a_protocol_error(
    registers: list[int], word_order: WordOrder
) -> None:
    try:
        value = channel_value(registers, word_order)
    except ProtocolError:
        assert len(registers) != 2 or not all(0 <= r <= 0xFFFF for r in registers)
    else:
        assert isinstance(value, float)


@given(register, register, word_orders)
def test_any_register_pair_is_a_value_or_a_typed_channel_error(
    high: int, low: int, word_order: WordOrder
) -> None:
    value = channel_value([high, low], word_order)
    status = channel_status(value)
    try:
        number = measured(value, "P1")
    except InstrumentError:
        assert status is not Status.OK
    else:
        assert status is Status.OK
        assert math.isfinite(number)


@given(register, register)
def test_big_word_order_is_abcd(high: int, low: int) -> None:
    expected = struct.unpack(">f", struct.pack(">2H", high, low))[0]
    assert same_float(channel_value([high, low], "big"), expected)
    assert same_float(channel_value([low, high], "little"), expected)


def test_keller_flags() -> None:
    assert math.isnan(channel_value([0x7FC0, 0x0000]))
    assert channel_status(channel_value([0x7F80, 0x0000])) is Status.OVERLOAD
    assert channel_status(channel_value([0xFF80, 0x0000])) is Status.UNDERLOAD
    assert channel_value([0x3F81, 0xB22D]) == pytest.approx(1.01325, abs=1e-7)


@given(st.floats(width=32), word_orders)
def test_float32_round_trip(value: float, word_order: WordOrder) -> None:
    registers = encode_float32(value, word_order)
    assert len(registers) == 2
    assert same_float(decode_float32(registers, word_order), value)


@given(st.floats(width=32, allow_nan=False))
def test_little_word_order_swaps_the_words(value: float) -> None:
    assert encode_float32(value, "little") == encode_float32(value, "big")[::-1]


@given(st.integers(0, 0xFFFF_FFFF), word_orders)
def test_uint32_round_trip(value: int, word_order: WordOrder) -> None:
    registers = encode_uint32(value, word_order)
    assert decode_uint32(registers, word_order) == value
    high_first = [value >> 16, value & 0xFFFF]
    assert registers == (high_first if word_order == "big" else high_first[::-1])


@given(st.integers(-32768, 32767), st.integers(0, 3))
def test_scaled_int16(value: int, decimals: int) -> None:
    raw = encode_int16(value)
    assert 0 <= raw <= 0xFFFF
    assert decode_int16(raw) == value
    assert scaled_int16(raw, decimals) == pytest.approx(value / 10**decimals)


@pytest.mark.parametrize(
    ("raw", "decimals", "value"),
    [(0xFFFF, 0, -1.0), (0xFF38, 2, -2.0), (0x8000, 3, -32.768), (0x0012, 1, 1.8)],
)
def test_scaled_int16_negative_and_decimals(raw: int, decimals: int, value: float) -> None:
    assert scaled_int16(raw, decimals) == pytest.approx(value)


def test_scaled_int16_refuses_impossible_decimals() -> None:
    with pytest.raises(ValueError, match="decimals"):
        scaled_int16(0x0012, 7)


@given(st.integers(-5, 0x1_0005))
def test_firmware_register_is_year_dot_week_or_protocol_error(raw: int) -> None:
    try:
        text = firmware_text(raw)
    except ProtocolError:
        assert not 0 <= raw <= 0xFFFF
    else:
        year, week = text.split(".")
        assert (int(year), int(week)) == (raw >> 8, raw & 0xFF)


def test_firmware_example() -> None:
    assert firmware_text(0x0C1C) == "12.28"
