"""KELLER Series 30 driver against exact register exchanges (no simulator behind them)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pytest

from daq.core.clock import Clock
from daq.core.errors import (
    InstrumentReportedError,
    OverloadError,
    ProtocolError,
    UnderloadError,
)
from daq.core.reading import Status
from drivers.keller import KellerSeries30
from drivers.testing import RegisterCall, RegisterReply, ScriptedRegisters

ATMOSPHERE = [0x3F81, 0xB22D]  # 1.01325
ROOM = [0x41B4, 0x0000]  # 22.5
NAN = [0x7FC0, 0x0000]
PLUS_INF = [0x7F80, 0x0000]
MINUS_INF = [0xFF80, 0x0000]


def keller(
    exchanges: Sequence[tuple[RegisterCall, RegisterReply]], **settings: Any
) -> tuple[KellerSeries30, ScriptedRegisters]:
    script = ScriptedRegisters(exchanges)
    driver = KellerSeries30(
        "pt-1", script, KellerSeries30.Settings.model_validate(settings), Clock()
    )
    return driver, script


async def test_read_takes_pressure_and_sensor_temperature_in_one_request() -> None:
    driver, script = keller([(("read_holding", 0x0100, 4), ATMOSPHERE + ROOM)])
    pressure, temperature = await driver.read()
    script.assert_done()
    assert (pressure.quantity, pressure.unit, pressure.status) == ("pressure", "bar", Status.OK)
    assert pressure.value == pytest.approx(1.01325, abs=1e-7)
    assert pressure.raw == "3F81 B22D"
    assert pressure.instrument == "pt-1"
    assert (temperature.quantity, temperature.value, temperature.unit) == (
        "temperature",
        22.5,
        "°C",
    )
    assert temperature.raw == "41B4 0000"


async def test_separate_requests_read_p1_then_t() -> None:
    driver, script = keller(
        [(("read_holding", 0x0002, 2), ATMOSPHERE), (("read_holding", 0x0006, 2), ROOM)],
        single_request=False,
    )
    pressure, temperature = await driver.read()
    script.assert_done()
    assert pressure.value == pytest.approx(1.01325, abs=1e-7)
    assert temperature.value == 22.5


async def test_swapped_word_order() -> None:
    driver, script = keller(
        [(("read_holding", 0x0100, 4), [0xB22D, 0x3F81, 0x0000, 0x41B4])], word_order="little"
    )
    pressure, temperature = await driver.read()
    script.assert_done()
    assert pressure.value == pytest.approx(1.01325, abs=1e-7)
    assert temperature.value == 22.5
    assert pressure.raw == "B22D 3F81"


async def test_big_word_order_misreads_swapped_words() -> None:
    """The setting matters: the same words in the wrong order are a different number."""
    driver, script = keller([(("read_holding", 0x0002, 2), [0xB22D, 0x3F81])])
    reading = await driver.pressure()
    script.assert_done()
    assert reading.value != pytest.approx(1.01325, rel=0.1)


@pytest.mark.parametrize(
    ("words", "status"),
    [(NAN, Status.ERROR), (PLUS_INF, Status.OVERLOAD), (MINUS_INF, Status.UNDERLOAD)],
)
async def test_flagged_pressure_is_a_reading_status_in_read(
    words: list[int], status: Status
) -> None:
    driver, script = keller([(("read_holding", 0x0100, 4), words + ROOM)])
    pressure, temperature = await driver.read()
    script.assert_done()
    assert pressure.status is status
    assert pressure.raw == f"{words[0]:04X} 0000"
    assert math.isnan(pressure.value) or math.isinf(pressure.value)
    assert temperature.status is Status.OK


async def test_flagged_temperature_in_separate_mode() -> None:
    driver, script = keller(
        [(("read_holding", 0x0002, 2), ATMOSPHERE), (("read_holding", 0x0006, 2), NAN)],
        single_request=False,
    )
    pressure, temperature = await driver.read()
    script.assert_done()
    assert (pressure.status, temperature.status) == (Status.OK, Status.ERROR)
    assert math.isnan(temperature.value)


async def test_pressure_reads_p1() -> None:
    driver, script = keller([(("read_holding", 0x0002, 2), ATMOSPHERE)])
    reading = await driver.pressure()
    script.assert_done()
    assert reading.value == pytest.approx(1.01325, abs=1e-7)
    assert reading.status is Status.OK


async def test_pressure_channel_error_raises() -> None:
    driver, _ = keller([(("read_holding", 0x0002, 2), NAN)])
    with pytest.raises(InstrumentReportedError, match="channel error"):
        await driver.pressure()


async def test_pressure_overflow_and_underflow_raise() -> None:
    driver, script = keller(
        [(("read_holding", 0x0002, 2), PLUS_INF), (("read_holding", 0x0002, 2), MINUS_INF)]
    )
    with pytest.raises(OverloadError):
        await driver.pressure()
    with pytest.raises(UnderloadError):
        await driver.pressure()
    script.assert_done()


@pytest.mark.parametrize(("single", "address"), [(True, 0x0008), (False, 0x0006)])
async def test_temperature_reads_the_channel_read_reports(single: bool, address: int) -> None:
    driver, script = keller([(("read_holding", address, 2), ROOM)], single_request=single)
    reading = await driver.temperature()
    script.assert_done()
    assert (reading.value, reading.unit) == (22.5, "°C")


async def test_temperature_channel_error_raises() -> None:
    driver, _ = keller([(("read_holding", 0x0008, 2), NAN)])
    with pytest.raises(InstrumentReportedError, match="channel error"):
        await driver.temperature()


async def test_identify_reads_serial_and_firmware() -> None:
    driver, script = keller(
        [(("read_holding", 0x0202, 2), [0x0001, 0xE240]), (("read_holding", 0x020F, 1), [0x0C1C])]
    )
    identity = await driver.identify()
    script.assert_done()
    assert (identity.manufacturer, identity.model) == ("KELLER", "Series 30")
    assert (identity.serial, identity.firmware) == ("123456", "12.28")


async def test_identify_swapped_word_order() -> None:
    driver, script = keller(
        [(("read_holding", 0x0202, 2), [0xE240, 0x0001]), (("read_holding", 0x020F, 1), [0x1401])],
        word_order="little",
    )
    identity = await driver.identify()
    script.assert_done()
    assert (identity.serial, identity.firmware) == ("123456", "20.01")


async def test_modbus_exception_is_reported_with_its_code() -> None:
    driver, _ = keller([(("read_holding", 0x0100, 4), 2)])
    with pytest.raises(InstrumentReportedError) as caught:
        await driver.read()
    assert caught.value.code == 2


async def test_short_reply_is_a_protocol_error() -> None:
    driver, _ = keller([(("read_holding", 0x0100, 4), [0x3F81, 0xB22D])])
    with pytest.raises(ProtocolError, match="0x0100"):
        await driver.read()


def test_unknown_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="extra"):
        KellerSeries30.Settings.model_validate({"byte_order": "big"})
    with pytest.raises(ValueError, match="word_order"):
        KellerSeries30.Settings.model_validate({"word_order": "middle"})
