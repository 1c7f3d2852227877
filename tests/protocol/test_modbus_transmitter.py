"""Generic int16 transmitter: register-level exchanges (reference §3.4.2)."""

from __future__ import annotations

import math

import pytest

from daq.core.clock import Clock
from daq.core.errors import InstrumentReportedError, OverloadError, ProtocolError, UnderloadError
from daq.core.reading import Status
from drivers.modbus_transmitter import ModbusTransmitter, engineering_value
from drivers.testing import ScriptedRegisters


def transmitter(script: ScriptedRegisters) -> ModbusTransmitter:
    return ModbusTransmitter("gauge", script, ModbusTransmitter.Settings(), Clock())


async def test_pressure_scaled_by_decimals_with_unit_code() -> None:
    script = ScriptedRegisters(
        [
            (("read_holding", 0x000C, 1), [0]),
            (("read_holding", 0x0002, 3), [1, 1, 1013]),  # kPa, one decimal, 101.3
            (("read_holding", 0x0002, 3), [3, 3, 0xFFEC]),  # bar, three decimals, -0.020
        ]
    )
    gauge = transmitter(script)
    first = await gauge.pressure()
    second = await gauge.pressure()  # the zero offset is read once
    assert (first.value, first.unit, first.raw) == (101.3, "kPa", "0001 0001 03F5")
    assert (second.value, second.unit) == (-0.02, "bar")
    script.assert_done()


async def test_zero_offset_is_added_before_scaling() -> None:
    script = ScriptedRegisters(
        [(("read_holding", 0x000C, 1), [0xFFFE]), (("read_holding", 0x0002, 3), [4, 0, 18])]
    )
    [reading] = await transmitter(script).read()
    assert (reading.value, reading.unit) == (16.0, "mbar")


async def test_identify_from_address_and_range() -> None:
    script = ScriptedRegisters(
        [
            (("read_holding", 0x0000, 1), [1]),
            (("read_holding", 0x0002, 3), [3, 2, 100]),
            (("read_holding", 0x0005, 2), [0, 1000]),
        ]
    )
    who = await transmitter(script).identify()
    assert (who.serial, who.model) == ("1", "int16 transmitter 0.0..10.0 bar")


async def test_unknown_unit_code_and_bad_decimals_are_protocol_errors() -> None:
    script = ScriptedRegisters(
        [(("read_holding", 0x000C, 1), [0]), (("read_holding", 0x0002, 3), [42, 1, 5])]
    )
    with pytest.raises(ProtocolError, match="unit code 42"):
        await transmitter(script).pressure()
    with pytest.raises(ProtocolError, match="decimals"):
        engineering_value(5, 9)


async def test_modbus_exception_is_reported() -> None:
    script = ScriptedRegisters([(("read_holding", 0x000C, 1), 2)])
    with pytest.raises(InstrumentReportedError) as caught:
        await transmitter(script).pressure()
    assert caught.value.code == 2


@pytest.mark.parametrize(
    ("raw", "error", "status"),
    [(0x7FFF, OverloadError, Status.OVERLOAD), (0x8000, UnderloadError, Status.UNDERLOAD)],
)
async def test_value_at_an_int16_limit_is_a_saturated_adc(
    raw: int, error: type[Exception], status: Status
) -> None:
    """Inference (the map has no over-range flag): 32767 and -32768 mean out of range."""
    script = ScriptedRegisters(
        [
            (("read_holding", 0x000C, 1), [0]),
            (("read_holding", 0x0002, 3), [3, 3, raw]),
            (("read_holding", 0x0002, 3), [3, 3, raw]),
        ]
    )
    gauge = transmitter(script)
    with pytest.raises(error):
        await gauge.pressure()
    [reading] = await gauge.read()
    script.assert_done()
    assert reading.status is status and math.isnan(reading.value)
    assert (reading.unit, reading.raw) == ("bar", f"0003 0003 {raw:04X}")


@pytest.mark.parametrize(("raw", "value"), [(0x7FFE, 32.766), (0x8001, -32.767)])
async def test_one_count_inside_the_limits_is_a_value(raw: int, value: float) -> None:
    script = ScriptedRegisters(
        [(("read_holding", 0x000C, 1), [0]), (("read_holding", 0x0002, 3), [3, 3, raw])]
    )
    [reading] = await transmitter(script).read()
    assert (reading.value, reading.status) == (value, Status.OK)
