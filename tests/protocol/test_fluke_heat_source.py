"""Fluke/Hart metrology wells and baths: exact byte exchanges (reference §2.4.1 and §4.1).

Commands end CR and replies end CR (§2.4.1). The scripts in capitals are replayed against the
simulator too (tests/integration/test_fluke_heat_source_sim.py), so driver and simulator keep
each other honest.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest

from daq.core.errors import (
    InstrumentReportedError,
    InstrumentTimeout,
    OverloadError,
    ProtocolError,
)
from daq.core.reading import Status
from drivers.base import Driver
from drivers.fluke_heat_source import FlukeHeatSource
from drivers.testing import Exchange, expected_protocol

NO_ERROR: Exchange = (b"SYST:ERR?\r", b'0,"No error"\r')
CELSIUS: Exchange = (b"UNIT:TEMP?\r", b"C\r")

IDENTIFY: list[Exchange] = [(b"*IDN?\r", b"HART,9142,B12345,1.00\r")]
SET_POINT: list[Exchange] = [
    CELSIUS,
    (b"SOUR:SPO 100.00\r", None),
    NO_ERROR,
    (b"OUTP:STAT 1\r", None),
    NO_ERROR,
]
OUT_OF_RANGE: list[Exchange] = [
    CELSIUS,
    (b"SOUR:SPO 151.00\r", None),
    (b"SYST:ERR?\r", b'-222,"Data out of range"\r'),
    NO_ERROR,
]
SAFE_STATE: list[Exchange] = [(b"OUTP:STAT 0\r", None), NO_ERROR]
READ_AT_POWER_ON: list[Exchange] = [
    CELSIUS,
    (b"SOUR:SENS:DATA?\r", b"23.000\r"),
    (b"SOUR:STAB:TEST?\r", b"0\r"),  # output off: no control, no stability
    (b"SOUR:SPO?\r", b"23.00\r"),
]
FAHRENHEIT_DISPLAY: list[Exchange] = [
    (b"UNIT:TEMP?\r", b"F\r"),
    (b"UNIT:TEMP C\r", None),
    NO_ERROR,
    (b"SOUR:SENS:DATA?\r", b"23.000\r"),
]


def well(
    exchanges: Sequence[Exchange], **settings: Any
) -> AbstractAsyncContextManager[Driver[Any, Any]]:
    return expected_protocol(
        FlukeHeatSource,
        exchanges,
        settings=settings,
        read_termination="\r",
        write_termination="\r",
    )


async def test_identify() -> None:
    async with well(IDENTIFY) as source:
        who = await source.identify()
    assert (who.manufacturer, who.model, who.serial, who.firmware) == (
        "HART",
        "9142",
        "B12345",
        "1.00",
    )


async def test_set_point_then_output_on_each_checked_in_the_queue() -> None:
    async with well(SET_POINT) as source:
        assert isinstance(source, FlukeHeatSource)
        await source.set_point(100.0)


async def test_configured_stability_limit_goes_with_every_set_point() -> None:
    async with well(
        [
            CELSIUS,
            (b"SOUR:STAB:LIM 0.10\r", None),
            NO_ERROR,
            (b"SOUR:SPO -20.50\r", None),
            NO_ERROR,
            (b"OUTP:STAT 1\r", None),
            NO_ERROR,
            (b"SOUR:STAB:LIM 0.10\r", None),
            NO_ERROR,
            (b"SOUR:SPO 25.00\r", None),
            NO_ERROR,
            (b"OUTP:STAT 1\r", None),
            NO_ERROR,
        ],
        stability_limit=0.1,
    ) as source:
        assert isinstance(source, FlukeHeatSource)
        await source.set_point(-20.5)
        await source.set_point(25.0)  # the unit is asked once


async def test_set_point_outside_the_range_raises_the_queued_error_and_leaves_output_off() -> None:
    async with well(OUT_OF_RANGE) as source:  # no OUTP:STAT 1 follows
        assert isinstance(source, FlukeHeatSource)
        with pytest.raises(InstrumentReportedError, match="Data out of range") as raised:
            await source.set_point(151.0)
    assert raised.value.code == -222


async def test_safe_state_switches_the_output_off() -> None:
    async with well(SAFE_STATE) as source:
        assert isinstance(source, FlukeHeatSource)
        await source.safe_state()


async def test_read_gives_control_temperature_and_set_point() -> None:
    async with well(READ_AT_POWER_ON) as source:
        control, set_point = await source.read()
    assert (control.quantity, control.value, control.unit) == ("temperature", 23.0, "°C")
    assert control.status is Status.UNSTABLE and control.raw == "23.000"
    assert (set_point.quantity, set_point.value, set_point.status) == ("set_point", 23.0, "ok")


async def test_read_when_stable() -> None:
    async with well(
        [
            CELSIUS,
            (b"SOUR:SENS:DATA?\r", b"100.002\r"),
            (b"SOUR:STAB:TEST?\r", b"1\r"),
            (b"SOUR:SPO?\r", b"100.00\r"),
        ]
    ) as source:
        control, _ = await source.read()
    assert control.status is Status.OK and control.value == 100.002


async def test_fahrenheit_display_is_switched_to_celsius_once() -> None:
    async with well([*FAHRENHEIT_DISPLAY, (b"SOUR:SENS:DATA?\r", b"23.001\r")]) as source:
        assert isinstance(source, FlukeHeatSource)
        assert (await source.temperature()).value == 23.0
        assert (await source.temperature()).value == 23.001


async def test_replies_with_linefeed_enabled_parse_too() -> None:
    """With the well's LF option on, replies end CR LF; the LF left over is stripped."""
    async with well(
        [
            (b"UNIT:TEMP?\r", b"C\r\n"),
            (b"SOUR:SENS:DATA?\r", b"50.125\r\n"),
            (b"SOUR:STAB:TEST?\r", b"1\r\n"),
            (b"SOUR:SPO?\r", b"50.00\r\n"),
        ]
    ) as source:
        control, set_point = await source.read()
    assert (control.value, control.status, set_point.value) == (50.125, Status.OK, 50.0)


async def test_over_range_sensor_is_an_overload_with_its_queued_cause() -> None:
    async with well(
        [
            CELSIUS,
            (b"SOUR:SENS:DATA?\r", b"9.9E37\r"),
            (b"SYST:ERR?\r", b'500,"Control sensor over range, heater cut out"\r'),
            NO_ERROR,
        ]
    ) as source:
        assert isinstance(source, FlukeHeatSource)
        with pytest.raises(OverloadError, match="heater cut out"):
            await source.temperature()


async def test_read_records_the_overload_as_a_status() -> None:
    async with well(
        [
            CELSIUS,
            (b"SOUR:SENS:DATA?\r", b"9.9E37\r"),
            (b"SYST:ERR?\r", b'500,"Control sensor over range, heater cut out"\r'),
            NO_ERROR,
            (b"SOUR:SPO?\r", b"100.00\r"),
        ]
    ) as source:
        control, set_point = await source.read()
    assert math.isnan(control.value) and control.status is Status.OVERLOAD
    assert control.raw == '9.9E37 (500,"Control sensor over range, heater cut out")'
    assert set_point.value == 100.0


async def test_refused_query_reports_the_queued_error() -> None:
    async with well(
        [
            (b"SOUR:STAB:TEST?\r", None),
            (b"SYST:ERR?\r", b'-200,"Execution error"\r'),
            NO_ERROR,
        ]
    ) as source:
        assert isinstance(source, FlukeHeatSource)
        with pytest.raises(InstrumentReportedError, match="Execution error") as raised:
            await source.is_stable()
    assert raised.value.code == -200


async def test_silent_well_times_out() -> None:
    async with well([(b"SOUR:STAB:TEST?\r", None), (b"SYST:ERR?\r", None)]) as source:
        assert isinstance(source, FlukeHeatSource)
        with pytest.raises(InstrumentTimeout):
            await source.is_stable()


async def test_stability_value() -> None:
    async with well([(b"SOUR:STAB:DAT?\r", b"0.004\r")]) as source:
        assert isinstance(source, FlukeHeatSource)
        assert await source.stability() == 0.004


@pytest.mark.parametrize("reply", [b"yes\r", b"2\r", b"\r", b"1.5\r"])
async def test_stability_test_reply_must_be_one_or_zero(reply: bytes) -> None:
    async with well([(b"SOUR:STAB:TEST?\r", reply)]) as source:
        assert isinstance(source, FlukeHeatSource)
        with pytest.raises(ProtocolError):
            await source.is_stable()
